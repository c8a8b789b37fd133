import { createPrivateKey, X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type https from 'node:https';
import tls from 'node:tls';
import type { Logger } from 'pino';
import { filesStamp } from '../launcher/childProcesses.js';

/** A certificate chain and key read from disk and checked to belong together. */
export interface LoadedCertificate {
	cert: Buffer;
	key: Buffer;
	/** SHA-256 fingerprint of the leaf, for logs. */
	fingerprint: string;
	/** When the leaf expires. */
	notAfter: Date;
	subject: string;
}

/**
 * Reads a PEM chain (leaf first) and its private key, and checks what a TLS handshake would otherwise find out from
 * the first client: both parse, the key is the leaf's, and Node accepts them together. Throws an Error naming the
 * file and the problem.
 */
export function loadCertificate(certFile: string, keyFile: string): LoadedCertificate {
	const cert = readFile(certFile, 'TLS_CERT_FILE');
	const key = readFile(keyFile, 'TLS_KEY_FILE');
	let leaf: X509Certificate;
	try {
		leaf = new X509Certificate(cert);
	} catch (error) {
		throw new Error(`TLS_CERT_FILE ${certFile}: not a PEM certificate (${(error as Error).message})`, { cause: error });
	}
	let privateKey;
	try {
		privateKey = createPrivateKey(key);
	} catch (error) {
		throw new Error(`TLS_KEY_FILE ${keyFile}: not a PEM private key (${(error as Error).message})`, { cause: error });
	}
	if (!leaf.checkPrivateKey(privateKey)) throw new Error(`TLS_KEY_FILE ${keyFile} is not the key of the certificate in ${certFile} (a renewal half written?)`);
	tls.createSecureContext({ cert, key });
	return { cert, key, fingerprint: leaf.fingerprint256, notAfter: new Date(leaf.validTo), subject: leaf.subject.replace(/\n/g, ', ') };
}

function readFile(file: string, name: string): Buffer {
	try {
		return fs.readFileSync(file);
	} catch (error) {
		throw new Error(`${name} ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, { cause: error });
	}
}

/** TLS settings of the HTTPS server: TLS 1.2 and 1.3 only (what browsers that run WebRTC speak). */
export const tlsServerOptions = { minVersion: 'TLSv1.2' } as const satisfies tls.TlsOptions;

/**
 * Keeps an HTTPS server on the certificate in its files: checks them every `checkS` seconds (and on {@link reloadNow},
 * e.g. SIGHUP) and, when they changed and the new pair is whole and matching, gives the server the new pair for
 * every connection from then on (`setSecureContext`; open connections keep theirs). A pair that does not load — a
 * renewal caught between writing the chain and the key — is logged and the old one kept; the next change retries.
 * Symlinks (certbot's live/) are followed: a renewal that repoints them counts as a change.
 */
export class CertificateReloader {
	readonly #server: https.Server;
	readonly #certFile: string;
	readonly #keyFile: string;
	readonly #logger: Logger;
	readonly #timer: NodeJS.Timeout;
	#current: LoadedCertificate;
	#seen: string;
	#closed = false;

	constructor(server: https.Server, files: { certFile: string; keyFile: string; checkS: number }, initial: LoadedCertificate, logger: Logger) {
		this.#server = server;
		this.#certFile = files.certFile;
		this.#keyFile = files.keyFile;
		this.#logger = logger;
		this.#current = initial;
		this.#seen = this.#stamp();
		this.#timer = setInterval(() => this.#check(), files.checkS * 1000).unref();
		warnIfExpiring(initial, logger);
	}

	/** The certificate new connections get. */
	get current(): LoadedCertificate {
		return this.#current;
	}

	/** Loads the files now whether or not they look changed; returns whether the server got a new certificate. */
	reloadNow(): boolean {
		if (this.#closed) return false;
		this.#seen = this.#stamp();
		let loaded: LoadedCertificate;
		try {
			loaded = loadCertificate(this.#certFile, this.#keyFile);
		} catch (error) {
			this.#logger.warn({ err: error, serving: this.#current.fingerprint }, 'TLS certificate files changed but do not load; still serving the previous certificate');
			return false;
		}
		if (loaded.fingerprint === this.#current.fingerprint && loaded.key.equals(this.#current.key)) return false;
		this.#server.setSecureContext({ ...tlsServerOptions, cert: loaded.cert, key: loaded.key });
		this.#current = loaded;
		this.#logger.info({ fingerprint: loaded.fingerprint, subject: loaded.subject, notAfter: loaded.notAfter.toISOString() }, 'TLS certificate reloaded');
		warnIfExpiring(loaded, this.#logger);
		return true;
	}

	close(): void {
		this.#closed = true;
		clearInterval(this.#timer);
	}

	#check(): void {
		if (this.#stamp() !== this.#seen) this.reloadNow();
		else warnIfExpiring(this.#current, this.#logger, true);
	}

	/** What the files are now (through symlinks): a renewal changes the inode, size or modification time of one. */
	#stamp(): string {
		return filesStamp([this.#certFile, this.#keyFile]);
	}
}

const expiryWarnMs = 14 * 24 * 3600_000;
let lastExpiryWarnMs = 0;

/** A certificate within 14 days of expiry is worth a warning (at most one a day when `quiet`). */
function warnIfExpiring(cert: LoadedCertificate, logger: Logger, quiet = false): void {
	const left = cert.notAfter.getTime() - Date.now();
	if (left > expiryWarnMs) return;
	if (quiet && Date.now() - lastExpiryWarnMs < 24 * 3600_000) return;
	lastExpiryWarnMs = Date.now();
	logger.warn({ fingerprint: cert.fingerprint, notAfter: cert.notAfter.toISOString() }, left <= 0 ? 'TLS certificate has expired: browsers refuse it; renew it' : 'TLS certificate expires within 14 days: renew it');
}

/**
 * The plain-HTTP listener of `HTTP_REDIRECT_PORT`: every request is answered with a 308 to the same path on
 * https://<host>[:httpsPort]. Only the Host header's name is kept (validated; a bad one gets 400), never its port,
 * so nobody can point the redirect elsewhere than this server's name. Nothing else is served over plain HTTP.
 */
export function createRedirectServer(httpsPort: number, options: http.ServerOptions): http.Server {
	return http.createServer(options, (req, res) => {
		const host = redirectHost(req.headers.host);
		if (host === undefined) {
			res.writeHead(400, { 'content-type': 'text/plain; charset=utf-8', connection: 'close' }).end('Bad Request: this server is reached over HTTPS by its name\n');
			return;
		}
		const path = (req.url ?? '/').startsWith('/') ? req.url ?? '/' : '/';
		const location = `https://${host}${httpsPort === 443 ? '' : `:${httpsPort}`}${path}`;
		res.writeHead(308, { location, 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' }).end(`Moved to ${location}\n`);
	});
}

/** The host name of a Host header (DNS name, IPv4, or bracketed IPv6), without its port; undefined if malformed. */
export function redirectHost(header: string | undefined): string | undefined {
	if (!header) return undefined;
	const match = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]{1,253})(?::\d{1,5})?$/.exec(header.trim());
	return match?.[1];
}
