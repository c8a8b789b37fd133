import fs from 'node:fs/promises';

/**
 * Resolves once every port in `ports` has a UDP socket bound on this machine (IPv4 or IPv6), read from
 * /proc/net/udp{,6}. A receiving ffmpeg binds its RTP ports only after it has read its SDP; resuming consumers
 * before that loses the first packets, keyframe included.
 */
export async function waitForUdpPortsBound(ports: readonly number[], timeoutMs: number, signal?: AbortSignal): Promise<void> {
	const deadline = Date.now() + timeoutMs;
	const wanted = new Set(ports.map((port) => `:${port.toString(16).toUpperCase().padStart(4, '0')}`));
	for (;;) {
		const tables = await Promise.all(['/proc/net/udp', '/proc/net/udp6'].map((file) => fs.readFile(file, 'utf8').catch(() => '')));
		const bound = new Set<string>();
		for (const line of tables.join('\n').split('\n')) {
			const local = line.trim().split(/\s+/)[1];
			if (local) bound.add(local.slice(local.lastIndexOf(':')));
		}
		if ([...wanted].every((port) => bound.has(port))) return;
		if (signal?.aborted) throw new Error('waitForUdpPortsBound: aborted');
		if (Date.now() > deadline) throw new Error(`waitForUdpPortsBound: ports ${ports.join(', ')} not all bound within ${timeoutMs} ms`);
		await new Promise((resolve) => setTimeout(resolve, 20));
	}
}
