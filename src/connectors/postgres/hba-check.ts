// Does the target's pg_hba.conf let a gateway account log in from anywhere but
// the gateway? Accounts a session gateway makes for itself are members of the
// gateway marker role (stint_gateway); their password never leaves the broker,
// but the session's role can set itself a new one with SQL nobody can parse
// (format(), chr(), a value read from a table). The target's own rules are
// what make such a password useless: members of the marker may log in only
// from the gateway's addresses (README.md: `host all +stint_gateway
// <gateway>/32 scram-sha-256`, then `host all +stint_gateway all reject` and
// `local all +stint_gateway reject`, before the other rules).
//
// PostgreSQL takes the first rule that matches a connection's type, database,
// user and client address. For every connection type (Unix socket; TCP with
// SSL, without, with GSS encryption) this walks the rules in order, keeping the
// addresses that rules certainly rejecting every gateway account already
// cover, and reports any rule that may admit a gateway account from an address
// outside the gateway's and not covered yet. "May": a rule naming another role
// (+app_read: the account may be a member), a regular expression, a specific
// database or samerole counts as matching when it admits, and as not matching
// when it rejects. A rule by host name, samehost or samenet cannot be placed:
// unknown, never a pass.

import net from 'node:net';

export interface HbaRule {
  line: number;
  /** local, host, hostssl, hostnossl, hostgssenc, hostnogssenc */
  type: string;
  database: string[];
  users: string[];
  address: string | null;
  netmask: string | null;
  method: string;
  error: string | null;
}

export interface HbaVerdict {
  status: 'pass' | 'fail' | 'unknown';
  message: string;
}

interface Cidr {
  v6: boolean;
  addr: bigint;
  bits: number;
}

type Flavor = 'local' | 'ssl' | 'plain' | 'gss';
const flavorsOf: Record<string, Flavor[]> = {
  local: ['local'],
  host: ['ssl', 'plain', 'gss'],
  hostssl: ['ssl'],
  hostnossl: ['plain', 'gss'],
  hostgssenc: ['gss'],
  hostnogssenc: ['ssl', 'plain'],
};
const flavorWords: Record<Flavor, string> = { local: 'a Unix-socket', ssl: 'an SSL', plain: 'a non-SSL TCP', gss: 'a GSS-encrypted' };

export function parseIp(text: string): { v6: boolean; addr: bigint } | null {
  const ip = text;
  if (net.isIPv4(ip)) return { v6: false, addr: ip.split('.').reduce((a, p) => (a << 8n) | BigInt(Number(p)), 0n) };
  if (!net.isIPv6(ip)) return null;
  let s = ip.replace(/%.*$/, '');
  // A trailing dotted quad (::ffff:10.0.0.1) becomes two groups.
  const quad = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (quad) {
    const v4 = parseIp(quad[1]!)!.addr;
    s = `${s.slice(0, -quad[1]!.length)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const [head, tail] = s.includes('::') ? s.split('::') : [s, null];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === null ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  if (groups.length !== 8) return null;
  return { v6: true, addr: groups.reduce((a, g) => (a << 16n) | BigInt(parseInt(g || '0', 16)), 0n) };
}

/** `10.0.0.5`, `10.0.0.0/24`, `::1`, `2001:db8::/32`. */
export function parseCidr(text: string): Cidr | null {
  const [ip, len, extra] = text.split('/');
  if (extra !== undefined || ip === undefined) return null;
  const p = parseIp(ip);
  if (!p) return null;
  const max = p.v6 ? 128 : 32;
  const bits = len === undefined ? max : /^\d{1,3}$/.test(len) ? Number(len) : -1;
  if (bits < 0 || bits > max) return null;
  return { v6: p.v6, addr: p.addr & mask(p.v6, bits), bits };
}

function mask(v6: boolean, bits: number): bigint {
  const max = v6 ? 128 : 32;
  return bits === 0 ? 0n : ((1n << BigInt(bits)) - 1n) << BigInt(max - bits);
}

function contains(outer: Cidr, inner: Cidr): boolean {
  return outer.v6 === inner.v6 && outer.bits <= inner.bits && (inner.addr & mask(outer.v6, outer.bits)) === outer.addr;
}

/** Every address of `c` lies in one of `set` (which may split it). */
function covered(c: Cidr, set: Cidr[]): boolean {
  if (set.some((s) => contains(s, c))) return true;
  const inside = set.filter((s) => contains(c, s) && s.bits > c.bits);
  if (inside.length === 0) return false;
  const max = c.v6 ? 128 : 32;
  const half = BigInt(max - c.bits - 1);
  const lo: Cidr = { v6: c.v6, addr: c.addr, bits: c.bits + 1 };
  const hi: Cidr = { v6: c.v6, addr: c.addr | (1n << half), bits: c.bits + 1 };
  return covered(lo, inside) && covered(hi, inside);
}

const everywhere: Cidr[] = [
  { v6: false, addr: 0n, bits: 0 },
  { v6: true, addr: 0n, bits: 0 },
];

/** The addresses a host rule matches; null when they cannot be known here (host names, samehost, samenet). */
function addressesOf(r: HbaRule): Cidr[] | null {
  const a = r.address;
  if (a === null || a === 'all') return everywhere;
  if (a === 'samehost' || a === 'samenet') return null;
  if (a.includes('/')) {
    const c = parseCidr(a);
    return c ? [c] : null;
  }
  const ip = parseIp(a);
  if (!ip) return null; // a host name
  if (r.netmask) {
    const m = parseIp(r.netmask);
    if (!m || m.v6 !== ip.v6) return null;
    const max = ip.v6 ? 128 : 32;
    let bits = 0;
    while (bits < max && (m.addr >> BigInt(max - 1 - bits)) & 1n) bits++;
    return [{ v6: ip.v6, addr: ip.addr & mask(ip.v6, bits), bits }];
  }
  return [{ v6: ip.v6, addr: ip.addr, bits: ip.v6 ? 128 : 32 }];
}

const describe = (r: HbaRule) =>
  `${r.type} ${r.database.join(',')} ${r.users.join(',')}${r.address ? ` ${r.address}${r.netmask ? `/${r.netmask}` : ''}` : ''} ${r.method}`;

/**
 * Verdict on `rules` (pg_hba_file_rules, in order) for accounts that are members
 * of `markers` (the gateway marker, and the marker every managed account has),
 * which should log in only from `gateway`.
 */
export function checkHba(rules: HbaRule[], markers: string[], gateway: Cidr[]): HbaVerdict {
  const broken = rules.find((r) => r.error);
  if (broken)
    return {
      status: 'unknown',
      message: `cannot verify: pg_hba.conf line ${broken.line} has an error (${broken.error}); the server may be running older rules`,
    };
  const sureUser = (r: HbaRule) => r.users.some((u) => u === 'all' || markers.some((m) => u === `+${m}`));
  // Another role's members (+app_read), or a regular expression: a gateway account may match.
  const mayUser = (r: HbaRule) => sureUser(r) || r.users.some((u) => u.startsWith('+') || u.startsWith('/'));
  const sureDb = (r: HbaRule) => r.database.includes('all');
  // A rule for replication only needs the REPLICATION attribute, which these accounts never have.
  const mayDb = (r: HbaRule) => r.database.some((d) => d !== 'replication');
  const unknowns: string[] = [];
  const open: string[] = [];
  for (const flavor of ['local', 'ssl', 'plain', 'gss'] as Flavor[]) {
    const rejected: Cidr[] = [];
    let allRejected = false;
    for (const r of rules) {
      if (allRejected) break;
      if (!(flavorsOf[r.type] ?? []).includes(flavor)) continue;
      if (r.method === 'reject') {
        if (!sureUser(r) || !sureDb(r)) continue;
        if (flavor === 'local') {
          allRejected = true;
          continue;
        }
        const cidrs = addressesOf(r);
        if (cidrs) rejected.push(...cidrs);
        if (everywhere.every((e) => covered(e, rejected))) allRejected = true;
        continue;
      }
      if (!mayUser(r) || !mayDb(r)) continue;
      if (flavor === 'local') {
        open.push(`line ${r.line} (${describe(r)}) admits them over ${flavorWords[flavor]} connection`);
        break;
      }
      const cidrs = addressesOf(r);
      if (!cidrs) {
        unknowns.push(
          `line ${r.line} (${describe(r)}) admits them from addresses given by name, samehost or samenet, which cannot be checked against the gateway's`,
        );
        continue;
      }
      const outside = cidrs.filter((c) => !covered(c, [...gateway, ...rejected]));
      if (outside.length > 0) {
        open.push(`line ${r.line} (${describe(r)}) admits them over ${flavorWords[flavor]} connection from addresses other than the gateway's`);
        break;
      }
    }
  }
  const who = `members of ${markers.map((m) => `"${m}"`).join(' / ')}`;
  if (open.length > 0) return { status: 'fail', message: `${who} can log in around the gateway: ${[...new Set(open)].join('; ')}` };
  if (unknowns.length > 0) return { status: 'unknown', message: `cannot verify: ${[...new Set(unknowns)].join('; ')}` };
  return { status: 'pass', message: `${who} can log in only from the gateway (${gateway.map(cidrText).join(', ')})` };
}

export function cidrText(c: Cidr): string {
  if (!c.v6) return `${[24n, 16n, 8n, 0n].map((s) => Number((c.addr >> s) & 255n)).join('.')}/${c.bits}`;
  const groups = Array.from({ length: 8 }, (_, i) => Number((c.addr >> BigInt(112 - 16 * i)) & 0xffffn).toString(16));
  return `${groups.join(':')}/${c.bits}`;
}
