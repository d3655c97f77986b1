// Administration: every form posts to the router and shows its answer (its errors next to the
// field they name, what was typed kept); secrets the router shows once (join keys, API keys,
// webhook signing secrets) are shown once here too, and never stored by this page.
import { accessSections } from './admin-access.js';
import { catalogSections } from './admin-catalog.js';
import { workspaceSections } from './admin-workspaces.js';

accessSections();
workspaceSections();
catalogSections();
