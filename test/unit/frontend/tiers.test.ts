import { describe, expect, it } from 'vitest';
import { SERVICE_TIERS as UI_TIERS } from '../../../services/frontend/http/pages.js';
import { SERVICE_TIERS } from '../../../services/router/store/endpoints.js';

describe("the web UI's copy of router values", () => {
  it("offers exactly the router's service tiers in the endpoint forms", () => {
    expect([...UI_TIERS].sort()).toEqual([...SERVICE_TIERS].sort());
  });
});
