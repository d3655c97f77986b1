import { BlockList, isIP } from 'node:net';

/** Why an address is not a place webhooks go by default. */
export type AddressClass =
  'loopback' | 'private' | 'link_local' | 'metadata' | 'unspecified' | 'multicast' | 'reserved' | 'shared' | 'public';

// Ranges a webhook must not reach unless an operator allows it: the router's own host, the
// cluster and VPC, link-local (where cloud metadata lives), and addresses that are not hosts.
const RANGES: readonly (readonly [AddressClass, string, number, 'ipv4' | 'ipv6'])[] = [
  ['metadata', '169.254.169.254', 32, 'ipv4'],
  ['metadata', '169.254.170.2', 32, 'ipv4'],
  ['metadata', 'fd00:ec2::', 32, 'ipv6'],
  ['unspecified', '0.0.0.0', 8, 'ipv4'],
  ['private', '10.0.0.0', 8, 'ipv4'],
  ['shared', '100.64.0.0', 10, 'ipv4'],
  ['loopback', '127.0.0.0', 8, 'ipv4'],
  ['link_local', '169.254.0.0', 16, 'ipv4'],
  ['private', '172.16.0.0', 12, 'ipv4'],
  ['reserved', '192.0.0.0', 24, 'ipv4'],
  ['reserved', '192.0.2.0', 24, 'ipv4'],
  ['private', '192.168.0.0', 16, 'ipv4'],
  ['reserved', '198.18.0.0', 15, 'ipv4'],
  ['reserved', '198.51.100.0', 24, 'ipv4'],
  ['reserved', '203.0.113.0', 24, 'ipv4'],
  ['multicast', '224.0.0.0', 4, 'ipv4'],
  ['reserved', '240.0.0.0', 4, 'ipv4'],
  ['unspecified', '::', 128, 'ipv6'],
  ['loopback', '::1', 128, 'ipv6'],
  ['private', 'fc00::', 7, 'ipv6'],
  ['link_local', 'fe80::', 10, 'ipv6'],
  ['multicast', 'ff00::', 8, 'ipv6'],
  ['reserved', '2001:db8::', 32, 'ipv6'],
];

const LISTS = new Map<AddressClass, BlockList>();
for (const [kind, network, prefix, family] of RANGES) {
  const list = LISTS.get(kind) ?? new BlockList();
  list.addSubnet(network, prefix, family);
  LISTS.set(kind, list);
}

/** The class of an IP address; IPv4 embedded in IPv6 (mapped, NAT64) is judged as IPv4. */
export function classifyAddress(address: string): AddressClass {
  const family = isIP(address);
  if (family === 0) return 'reserved';
  const embedded = family === 6 ? embeddedIpv4(address) : undefined;
  if (embedded) return classifyAddress(embedded);
  const type = family === 4 ? 'ipv4' : 'ipv6';
  for (const [kind, list] of LISTS) if (list.check(address, type)) return kind;
  return 'public';
}

function embeddedIpv4(address: string): string | undefined {
  const match = /^(?:::ffff:|64:ff9b::)(?:(\d{1,3}(?:\.\d{1,3}){3})|([0-9a-f]{1,4}):([0-9a-f]{1,4}))$/i.exec(address);
  if (!match) return undefined;
  if (match[1]) return match[1];
  const high = parseInt(match[2]!, 16);
  const low = parseInt(match[3]!, 16);
  return [high >> 8, high & 255, low >> 8, low & 255].join('.');
}

/** The operator's allowlist: host names (exact) and CIDR ranges that internal receivers use. */
export interface TargetAllowlist {
  readonly hosts: ReadonlySet<string>;
  readonly ranges: BlockList;
}

export function parseAllowlist(entries: readonly string[]): TargetAllowlist {
  const hosts = new Set<string>();
  const ranges = new BlockList();
  for (const entry of entries) {
    const [network, prefix] = entry.split('/');
    const family = isIP(network ?? '');
    if (family === 0) hosts.add(entry.toLowerCase());
    else
      ranges.addSubnet(
        network!,
        prefix === undefined ? (family === 4 ? 32 : 128) : Number(prefix),
        family === 4 ? 'ipv4' : 'ipv6',
      );
  }
  return { hosts, ranges };
}

export type TargetDecision =
  | { readonly ok: true; readonly address: string; readonly family: 4 | 6 }
  | { readonly ok: false; readonly reason: string };

/**
 * May a delivery to `hostname`, which resolved to `addresses`, go ahead, and to which address?
 * Decided after resolution and at delivery time, and the connection is then made to exactly the
 * address checked, so a name cannot be pointed inside between the check and the connect. Every
 * resolved address must be acceptable: a name that also resolves inside is refused whole.
 */
export function decideTarget(
  hostname: string,
  addresses: readonly { address: string; family: number }[],
  allow: TargetAllowlist,
): TargetDecision {
  if (addresses.length === 0) return { ok: false, reason: `${hostname} did not resolve` };
  if (allow.hosts.has(hostname.toLowerCase()))
    return { ok: true, address: addresses[0]!.address, family: addresses[0]!.family === 6 ? 6 : 4 };
  for (const { address, family } of addresses) {
    const kind = classifyAddress(address);
    const allowed = kind === 'public' || allow.ranges.check(address, family === 6 ? 'ipv6' : 'ipv4');
    if (!allowed)
      return {
        ok: false,
        reason: `${hostname} resolves to a ${kind.replace('_', '-')} address (${address}); add it to XEROTIER_WEBHOOKS_ALLOWED_TARGETS to allow`,
      };
  }
  return { ok: true, address: addresses[0]!.address, family: addresses[0]!.family === 6 ? 6 : 4 };
}
