/**
 * Platform facts the settings are checked against, each in one place so the day it changes is
 * one edit: how many routers may run, which EKS versions may be created, and what an image
 * reference must look like to be deployable.
 */

/**
 * Routers that may serve at once: the HPA's ceiling. Any replica serves any request (it hands a
 * stream to the replica holding the chosen agent, docs/fleet.md); ten is as far as the replica
 * simulation (`npm run bench -- scheduler`, replicas_10) shows affinity and tail latency holding
 * at one router's level. Beyond it, measure first.
 */
export const ROUTER_REPLICA_LIMIT = 10;

/**
 * EKS versions a new cluster may use: in standard support as of December 2026 (1.34's ended
 * 2026-12-02, 1.31's extended support on 2026-11-26). 1.35 is in standard support until
 * 2027-03-27; 1.36 is the newest. Remove a version when its standard support ends.
 */
export const EKS_VERSIONS = ['1.35', '1.36'] as const;
export const DEFAULT_EKS_VERSION = '1.35';

/**
 * Our own images are deployed by what cannot move: the commit SHA CI tags them with (7–40 hex
 * digits) or a registry digest. `latest`, `main`, `pr-12` or a release name can be re-pushed,
 * and a re-pushed tag never reaches running pods (nor reruns migrations: the Job's name carries
 * the image reference).
 */
export function immutableTag(tag: string): boolean {
  return /^[0-9a-f]{7,40}$/.test(tag) || /^sha256:[0-9a-f]{64}$/.test(tag);
}

/** `<registry>/<name>:<sha>` or `<registry>/<name>@sha256:…`. */
export function imageRef(registry: string, name: string, tag: string): string {
  return tag.startsWith('sha256:') ? `${registry}/${name}@${tag}` : `${registry}/${name}:${tag}`;
}

/**
 * Third-party images (Postgres, Redis, NVIDIA's device plugin): a full version, never a floating
 * major or `latest`; a digest may follow (`image:1.2.3@sha256:…`) and is then what pulls.
 */
export function pinnedThirdParty(image: string): boolean {
  return (
    /:[v]?\d+\.\d+(\.\d+)?(-[a-z0-9.]+)?(@sha256:[0-9a-f]{64})?$/.test(image) || /@sha256:[0-9a-f]{64}$/.test(image)
  );
}
