/**
 * The token of an `Authorization: Bearer <token>` header (the scheme in any case, RFC 9110), or undefined when the
 * header is absent or says something else. Every route and upgrade that takes a bearer token reads it here.
 */
export function bearerToken(authorization: string | undefined): string | undefined {
	return /^Bearer +(\S+)$/i.exec(authorization ?? '')?.[1];
}
