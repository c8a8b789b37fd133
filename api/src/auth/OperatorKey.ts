import { readOrCreateSecretFile } from './secretFile.js';
import { bearerMatches } from '../http/metricsAccess.js';

/** Minimum length of the operator's key, in characters (printable ASCII without spaces: it travels in a header). */
export const minOperatorKeyLength = 32;

const keyShape = /^[\x21-\x7e]+$/;

/** The operator's key and where it came from. */
export interface OperatorKey {
	readonly key: string;
	/**
	 * True when the key is the one kept in `<dataDir>/admin-key` (TRIBUNE_ADMIN_KEY unset): nobody was told it, so
	 * the node offers a one-time sign-in link instead (`AdminSessions.createSignInCode`).
	 */
	readonly fromDataDir: boolean;
}

/**
 * The operator's key (`TRIBUNE_ADMIN_KEY`) for `/api/server/*`. A configured key wins; otherwise the key in
 * `<dataDir>/admin-key` is used, generated (32 random bytes, base64url) with mode 0600 on first start, so it survives
 * restarts and every process on the machine shares it. Like the token secret (`loadTokenSecret`).
 */
export function loadOperatorKey(configured: string | undefined, dataDir: string): OperatorKey {
	if (configured !== undefined) {
		if (configured.length < minOperatorKeyLength || !keyShape.test(configured)) {
			throw new Error(`TRIBUNE_ADMIN_KEY must be at least ${minOperatorKeyLength} printable ASCII characters without spaces`);
		}
		return { key: configured, fromDataDir: false };
	}
	const { file, stored } = readOrCreateSecretFile(dataDir, 'admin-key');
	if (stored.length < minOperatorKeyLength || !keyShape.test(stored)) {
		throw new Error(`${file} does not hold a key of at least ${minOperatorKeyLength} characters; delete it to generate one`);
	}
	return { key: stored, fromDataDir: true };
}

/**
 * Whether an `Authorization` header carries the operator's key: `Bearer <key>`, compared as SHA-256 digests with
 * `timingSafeEqual` (the same time whatever was sent).
 */
export function operatorKeyMatches(authorization: string | undefined, key: OperatorKey): boolean {
	return bearerMatches(authorization, key.key);
}
