// What `tsc` does not emit but the compiled services read beside their code: the router's SQL
// migrations and the web UI's views and browser scripts. Plain JavaScript: it runs in image
// builds before anything is compiled.
import { cpSync } from 'node:fs';

for (const dir of ['services/router/store/migrations', 'services/frontend/views', 'services/frontend/public'])
  cpSync(dir, `dist/${dir}`, { recursive: true });
