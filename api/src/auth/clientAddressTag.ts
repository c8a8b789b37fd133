import { createHmac } from 'node:crypto';
import { addressKey } from '../http/trustedProxies.js';

/**
 * What a participant record keeps of a client's address, for address bans: HMAC-SHA256 under the token key of the
 * address (an IPv6 address by its /64, as the connection caps count it), 16 base64url characters. Never the address
 * itself; without the key a tag cannot be tested against guesses.
 */
export function clientAddressTag(key: Uint8Array, address: string): string {
	return createHmac('sha256', key).update(addressKey(address)).digest('base64url').slice(0, 16);
}
