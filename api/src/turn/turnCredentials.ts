import { createHmac } from 'node:crypto';
import net from 'node:net';

/** One entry of RTCConfiguration.iceServers, as the browser's RTCPeerConnection (and mediasoup-client) takes it. */
export interface IceServer {
	urls: string[];
	username: string;
	credential: string;
}

/** Where TURN is and how its credentials are made (`TURN_URLS`, `TURN_SECRET`, `TURN_CREDENTIAL_TTL_S`). */
export interface TurnConfig {
	urls: readonly string[];
	/** The secret the TURN server shares (coturn's `static-auth-secret`). Never logged or sent to clients. */
	secret: string;
	/** Lifetime of a minted credential, s. */
	credentialTtlS: number;
}

// RFC 7064/7065: turn:host[:port][?transport=udp|tcp] and turns:host[:port][?transport=tcp]. A host is a DNS name,
// an IPv4 address or a bracketed IPv6 address.
const turnUri = /^(turns?):(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]{1,253})(?::(\d{1,5}))?(?:\?transport=(udp|tcp))?$/;

/**
 * Parses `TURN_URLS`: TURN URIs separated by commas, e.g.
 * `turn:turn.example.com:3478?transport=udp, turn:turn.example.com:3478?transport=tcp, turns:turn.example.com:443?transport=tcp`.
 * Throws an Error naming the entry that is wrong.
 */
export function parseTurnUrls(value: string): string[] {
	const entries = value.split(',').map((entry) => entry.trim()).filter((entry) => entry !== '');
	if (entries.length === 0) throw new Error('expected at least one turn: or turns: URI');
	if (entries.length > 8) throw new Error('expected at most 8 URIs (each one is tried by every participant)');
	for (const entry of entries) {
		const match = turnUri.exec(entry);
		if (!match) throw new Error(`"${entry}" is not a TURN URI (expected turn:host[:port][?transport=udp|tcp] or turns:host[:port][?transport=tcp])`);
		const [, scheme, host = '', port, transport] = match;
		if (host.startsWith('[') && net.isIPv6(host.slice(1, -1)) === false) throw new Error(`"${entry}": ${host} is not an IPv6 address`);
		if (port !== undefined && (Number(port) < 1 || Number(port) > 65535)) throw new Error(`"${entry}": port must be 1-65535`);
		// Browsers speak TURN over TLS (TCP) only; DTLS to a TURN server is not offered by any of them.
		if (scheme === 'turns' && transport === 'udp') throw new Error(`"${entry}": turns: runs over TCP (TLS); browsers have no TURN over DTLS`);
	}
	return entries;
}

/**
 * A TURN credential of the TURN REST API (draft-uberti-behave-turn-rest-00, what coturn's `use-auth-secret` checks):
 * the username is `<expiry, Unix seconds>:<id>` and the password is base64(HMAC-SHA1(secret, username)). The TURN
 * server needs no list of users: it recomputes the HMAC and refuses a username whose expiry has passed, on the
 * allocation and on every refresh after it.
 */
export function mintTurnCredential(secret: string, id: string, ttlS: number, nowMs: number): { username: string; credential: string } {
	const username = `${Math.floor(nowMs / 1000) + ttlS}:${id}`;
	return { username, credential: createHmac('sha1', secret).update(username).digest('base64') };
}

/**
 * The ICE servers one participant's transports get: every configured TURN URI, with a credential minted for that
 * participant (the id in its username lets the TURN server's logs and quotas tell participants apart).
 */
export function iceServersFor(config: TurnConfig, participantId: string, nowMs = Date.now()): IceServer[] {
	// A participant id is Tribune's own (URL-safe); anything else is refused rather than put into a TURN username.
	if (!/^[A-Za-z0-9_-]{1,64}$/.test(participantId)) throw new Error('participant id is not URL-safe');
	const { username, credential } = mintTurnCredential(config.secret, participantId, config.credentialTtlS, nowMs);
	return [{ urls: [...config.urls], username, credential }];
}
