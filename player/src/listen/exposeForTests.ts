import type { StageMedia } from '../stage/useStageMedia.js';
import type { HlsPlayer } from './useHlsPlayer.js';

/**
 * What a page plays, as numbers, on `window[name]` for the end-to-end tests (player/test): playback state, media
 * time, the analyser's level, and with a stage, WebRTC packet counts. Read-only; nothing here changes the page.
 */
export function exposeForTests(name: 'tribunePlayer' | 'tribuneReplay', player: HlsPlayer, media?: StageMedia): void {
	(window as unknown as Record<string, unknown>)[name] = {
		sample: () => {
			const el = player.element();
			return {
				status: player.status.value, level: player.level.value, currentTime: el?.currentTime ?? 0, paused: el?.paused ?? true,
				hlsAttached: !!player.hls.value, onStage: media?.joined.value ?? false,
				errors: player.errors(), buffered: el && el.buffered.length ? [el.buffered.start(0), el.buffered.end(el.buffered.length - 1)] : [], latency: player.hls.value?.latency ?? null,
				videoWidth: el?.videoWidth ?? 0, hlsLevel: player.hls.value?.loadLevel ?? null, audioOnly: player.audioOnly.value,
				playbackRate: el?.playbackRate ?? 1, targetLatency: player.hls.value?.targetLatency ?? null,
			};
		},
		stageLevels: () => media?.levels() ?? {},
		packetStats: () => media?.packetStats() ?? { inbound: {}, outbound: 0 },
	};
}
