/**
 * IPv4 CIDR arithmetic for the VPC plan: parse, carve, contain, overlap. Pure; the settings
 * checks and the Network component share it, so the subnets the program declares are the ones
 * the checks reasoned about.
 */
export interface Cidr {
  /** The network address as an unsigned 32-bit number. */
  readonly base: number;
  readonly prefix: number;
}

export const CIDR_PATTERN =
  '^(25[0-5]|2[0-4]\\d|1?\\d?\\d)(\\.(25[0-5]|2[0-4]\\d|1?\\d?\\d)){3}/([0-9]|[12]\\d|3[0-2])$';

export function parseCidr(text: string): Cidr {
  const match = new RegExp(CIDR_PATTERN).exec(text);
  if (!match) throw new Error(`${text} is not an IPv4 CIDR block`);
  const [address, prefix] = text.split('/') as [string, string];
  const base = address.split('.').reduce((sum, octet) => sum * 256 + Number(octet), 0);
  const cidr = { base, prefix: Number(prefix) };
  if (base % size(cidr) !== 0)
    throw new Error(
      `${text} has host bits set (the network is ${formatCidr({ base: base - (base % size(cidr)), prefix: cidr.prefix })})`,
    );
  return cidr;
}

export function formatCidr(cidr: Cidr): string {
  const octets = [24, 16, 8, 0].map((shift) => Math.floor(cidr.base / 2 ** shift) % 256);
  return `${octets.join('.')}/${cidr.prefix}`;
}

export function size(cidr: Cidr): number {
  return 2 ** (32 - cidr.prefix);
}

/** The `index`-th block of prefix `prefix` inside `parent`. */
export function subBlock(parent: Cidr, prefix: number, index: number): Cidr {
  if (prefix < parent.prefix) throw new Error(`a /${prefix} does not fit in ${formatCidr(parent)}`);
  const block = { base: parent.base + index * 2 ** (32 - prefix), prefix };
  if (!contains(parent, block)) throw new Error(`block ${index} of /${prefix} is outside ${formatCidr(parent)}`);
  return block;
}

export function contains(outer: Cidr, inner: Cidr): boolean {
  return (
    inner.prefix >= outer.prefix && inner.base >= outer.base && inner.base + size(inner) <= outer.base + size(outer)
  );
}

export function overlaps(a: Cidr, b: Cidr): boolean {
  return a.base < b.base + size(b) && b.base < a.base + size(a);
}

const PRIVATE_RANGES = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16'].map(parseCidr);

/** RFC 1918: a VPC that could ever be peered or reached over a VPN lives here. */
export function isPrivate(cidr: Cidr): boolean {
  return PRIVATE_RANGES.some((range) => contains(range, cidr));
}
