import net from 'node:net';

/**
 * The peers whose `X-Forwarded-For` Tribune believes (`TRIBUNE_TRUSTED_PROXIES`). One value drives both Express's
 * `req.ip` (`trust proxy`) and the connection caps (`ConnectionPolicy`), so the address a request is judged by is
 * the same everywhere.
 */
export interface TrustedProxies {
	/** Whether a peer (as a socket or a forwarded hop reports it) is a trusted proxy. */
	trusts(address: string): boolean;
	/** The list as configured, for logs and docs: `none`, `loopback`, or IPs and CIDRs. */
	readonly description: string;
}

/** `loopback`: a proxy on the same machine (127.0.0.0/8 and ::1); the default, as Express trusted before. */
const loopbackRanges = ['127.0.0.0/8', '::1/128'];

/**
 * Parses `none`, `loopback` or a comma-separated list of IPs and CIDRs (`10.0.0.0/8, 2001:db8::/32, 192.0.2.7`;
 * `loopback` may be one of them). Throws an Error saying which entry is wrong.
 */
export function parseTrustedProxies(value: string): TrustedProxies {
	const text = value.trim();
	const list = new net.BlockList();
	if (text === 'none') return { trusts: () => false, description: 'none' };
	const entries = text.split(',').map((entry) => entry.trim());
	for (const entry of entries) {
		if (entry === 'loopback') {
			for (const range of loopbackRanges) addRange(list, range);
			continue;
		}
		if (!addRange(list, entry)) throw new Error(`"${entry}" is not an IP address or CIDR (expected none, loopback, or IPs/CIDRs separated by commas)`);
	}
	return {
		trusts: (address) => {
			const plain = normalizeAddress(address);
			const family = net.isIP(plain);
			return family !== 0 && list.check(plain, family === 4 ? 'ipv4' : 'ipv6');
		},
		description: entries.join(','),
	};
}

function addRange(list: net.BlockList, entry: string): boolean {
	const [address = '', prefix, extra] = entry.split('/');
	const family = net.isIP(address);
	if (family === 0 || extra !== undefined) return false;
	if (prefix === undefined) {
		list.addAddress(address, family === 4 ? 'ipv4' : 'ipv6');
		return true;
	}
	const bits = /^\d{1,3}$/.test(prefix) ? Number(prefix) : NaN;
	if (!(bits >= 0 && bits <= (family === 4 ? 32 : 128))) return false;
	list.addSubnet(address, bits, family === 4 ? 'ipv4' : 'ipv6');
	return true;
}

/** `::ffff:192.0.2.1` (a v4 peer on a dual-stack socket) as `192.0.2.1`; anything else as given. */
export function normalizeAddress(address: string): string {
	return address.startsWith('::ffff:') && net.isIPv4(address.slice(7)) ? address.slice(7) : address;
}

/**
 * The client's address: the peer's own unless it is a trusted proxy; then, walking `X-Forwarded-For` from the right
 * (the hop the proxy appended), the first address that is not a trusted proxy — the same walk Express's `req.ip`
 * makes with `trust proxy` set to {@link TrustedProxies.trusts}. A trusted peer that forwards nothing is the client.
 */
export function clientAddress(peer: string, forwardedFor: string | undefined, proxies: TrustedProxies): string {
	let address = normalizeAddress(peer);
	if (!forwardedFor || !proxies.trusts(address)) return address;
	const hops = forwardedFor.split(',');
	// A header longer than any real proxy chain is cut at 32 hops: the walk stays bounded whatever a client sends.
	for (let i = hops.length - 1; i >= Math.max(0, hops.length - 32); i--) {
		const hop = normalizeAddress(hops[i]!.trim());
		if (hop === '') continue;
		address = hop;
		if (!proxies.trusts(address)) return address;
	}
	return address;
}

/**
 * What the per-address cap counts an address under: an IPv4 address as itself, an IPv6 address by its /64 (one
 * subscriber's network: a client picks any of its 2^64 addresses at will, so counting /128s would cap nothing).
 */
export function addressKey(address: string): string {
	const plain = normalizeAddress(address);
	if (net.isIP(plain) !== 6) return plain;
	const groups = expandIpv6(plain);
	return groups ? `${groups.slice(0, 4).join(':')}::/64` : plain;
}

/** The eight 16-bit groups of an IPv6 address (hex, without leading zeros), or undefined if it does not parse. */
function expandIpv6(address: string): string[] | undefined {
	const zone = address.indexOf('%');
	const bare = zone < 0 ? address : address.slice(0, zone);
	const halves = bare.split('::');
	if (halves.length > 2) return undefined;
	const parse = (part: string): string[] => {
		if (part === '') return [];
		const groups = part.split(':');
		const last = groups[groups.length - 1]!;
		// An embedded IPv4 tail (`::ffff:1.2.3.4`, `64:ff9b::1.2.3.4`) is two groups.
		if (net.isIPv4(last)) {
			const [a, b, c, d] = last.split('.').map(Number) as [number, number, number, number];
			groups.splice(-1, 1, ((a << 8) | b).toString(16), ((c << 8) | d).toString(16));
		}
		return groups.map((g) => Number.parseInt(g, 16).toString(16));
	};
	const head = parse(halves[0]!);
	const tail = halves.length === 2 ? parse(halves[1]!) : [];
	const missing = 8 - head.length - tail.length;
	if (missing < 0 || (halves.length === 1 && missing !== 0)) return undefined;
	return [...head, ...Array<string>(missing).fill('0'), ...tail];
}
