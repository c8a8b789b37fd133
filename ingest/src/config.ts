import os from 'node:os';
import { z } from 'zod';
import { envValue, parseEnv } from './parseEnv.js';

const schema = z
	.object({
		/** mediasoup workers (one C++ process each). Default: one per CPU core. */
		MEDIASOUP_NUM_WORKERS: envValue.positiveInt().max(64, 'expected at most 64').default(Math.max(1, os.availableParallelism())),
		/** Lowest UDP/TCP port the workers use for WebRTC and plain RTP. */
		MEDIASOUP_MIN_PORT: envValue.port().default(40000),
		/** Highest UDP/TCP port the workers use for WebRTC and plain RTP. */
		MEDIASOUP_MAX_PORT: envValue.port().default(49999),
		/** Local IP the WebRTC transports listen on. */
		MEDIASOUP_LISTEN_IP: z.ipv4({ message: 'expected an IPv4 address' }).or(z.ipv6({ message: 'expected an IP address' })).default('127.0.0.1'),
		/** Public IP or host announced in ICE candidates, for a server behind NAT. Unset: the listen IP. */
		MEDIASOUP_ANNOUNCED_IP: z.string().min(1).max(253).optional(),
		/** mediasoup worker log level. */
		MEDIASOUP_LOG_LEVEL: z.enum(['debug', 'warn', 'error', 'none'], { message: 'expected debug|warn|error|none' }).default('warn'),
	})
	.refine((c) => c.MEDIASOUP_MIN_PORT < c.MEDIASOUP_MAX_PORT, {
		message: 'MEDIASOUP_MIN_PORT must be below MEDIASOUP_MAX_PORT',
		path: ['MEDIASOUP_MIN_PORT'],
	});

/** The ingest's configuration, in the units its names say. */
export interface IngestConfig {
	numWorkers: number;
	rtcMinPort: number;
	rtcMaxPort: number;
	listenIp: string;
	announcedIp: string | undefined;
	workerLogLevel: 'debug' | 'warn' | 'error' | 'none';
}

export function loadIngestConfig(env: Record<string, string | undefined>): Readonly<IngestConfig> {
	const c = parseEnv(schema, env, 'ingest');
	return Object.freeze({
		numWorkers: c.MEDIASOUP_NUM_WORKERS,
		rtcMinPort: c.MEDIASOUP_MIN_PORT,
		rtcMaxPort: c.MEDIASOUP_MAX_PORT,
		listenIp: c.MEDIASOUP_LISTEN_IP,
		announcedIp: c.MEDIASOUP_ANNOUNCED_IP,
		workerLogLevel: c.MEDIASOUP_LOG_LEVEL,
	});
}
