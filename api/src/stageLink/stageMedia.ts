import { producerSource, type Stage } from '@tribune/ingest';

/**
 * A speaker's media as the broadcast takes it: their microphone (paused or not: a muted speaker keeps their slot)
 * and their camera while it sends. Never their screen or its sound: those are the stage's share (`screenShareOf`).
 */
export function stageMediaOf(stage: Stage, peerId: string): { audioProducerId?: string; videoProducerId?: string } {
	const producers = stage.getPeer(peerId)?.producers ?? [];
	const audio = producers.find((p) => producerSource(p) === 'mic' && !p.closed);
	const video = producers.find((p) => producerSource(p) === 'camera' && !p.closed && !p.paused);
	return { ...(audio && { audioProducerId: audio.id }), ...(video && { videoProducerId: video.id }) };
}

/** The stage's screen share for the broadcast, while its picture is sent (a paused share is left out, like a camera). */
export function screenShareOf(stage: Stage): { peerId: string; videoProducerId: string; audioProducerId?: string } | undefined {
	const share = stage.share;
	if (!share) return undefined;
	const producers = stage.getPeer(share.peerId)?.producers ?? [];
	const video = producers.find((p) => p.id === share.videoProducerId);
	if (!video || video.closed || video.paused) return undefined;
	const audio = share.audioProducerId === undefined ? undefined : producers.find((p) => p.id === share.audioProducerId && !p.closed && !p.paused);
	return { peerId: share.peerId, videoProducerId: share.videoProducerId, ...(audio && { audioProducerId: audio.id }) };
}
