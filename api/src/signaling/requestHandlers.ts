import { StageError, type ScreenShare, type Stage, type StagePeer, type StageRegistry } from '@tribune/ingest';
import { TokenRefusedError } from '../auth/TokenIssuer.js';
import { TribuneError, type ErrorCode } from '../errors.js';
import { isRedisUnavailable, redisUnavailable } from '../redis/requestRedis.js';
import { asParticipantId, type Participant } from '../spaces/Space.js';
import type { SpaceService } from '../spaces/SpaceService.js';
import { publishGrantsFor } from '../stage/publishGrantsFor.js';
import type { ClientConnection } from './ClientConnection.js';
import type { SpaceId } from '../spaces/Space.js';
import { handPageSize, type IceServerInfo, type ReplyData, type ShareInfo, type StateData, type RequestData, type RequestName, type SpaceEndReason } from './protocol.js';
import { mayReplaceShare, toShareInfo, type ScreenShares } from './ScreenShares.js';
import type { SpaceRoom } from './SpaceRoom.js';
import { participantInfo, spaceInfo } from './toWire.js';

export interface HandlerContext {
	service: SpaceService;
	stages: StageRegistry;
	room: SpaceRoom;
	connection: ClientConnection;
	/** Closes the connection as revoked (4013), after the reply in hand is sent. */
	closeRevoked: (connection: ClientConnection) => void;
	/** The end the space's stage was warned of and that still stands (the lifecycle's), or null. */
	ending: (spaceId: SpaceId) => Promise<{ reason: SpaceEndReason; endsAt: number } | null>;
	/** Screen shares and who may share. */
	shares: ScreenShares;
	/** TURN servers for a participant's transports; unset: none configured. */
	iceServers?: (participantId: string) => IceServerInfo[];
}

type Handlers = { [N in RequestName]: (ctx: HandlerContext, data: RequestData<N>) => Promise<ReplyData[N]> };

const ok = {} as Record<string, never>;

// mediasoup's parameter types, by way of the stage (the API does not depend on mediasoup itself).
type DtlsParameters = Parameters<StagePeer['connectTransport']>[1];
type RtpParameters = Parameters<StagePeer['produce']>[2];
type RtpCapabilities = Parameters<StagePeer['setRtpCapabilities']>[0];

/**
 * A connection whose token turns out revoked (its revocation event never reached this node) has nothing left to
 * renew: it closes with 4013 once the refusal is sent.
 */
async function closingIfRevoked<T>(ctx: HandlerContext, work: Promise<T>): Promise<T> {
	try {
		return await work;
	} catch (error) {
		if (error instanceof TokenRefusedError && error.reason === 'revoked') ctx.closeRevoked(ctx.connection);
		throw error;
	}
}

/**
 * One handler per request. Each begins with the grant check (in SpaceService, or `require()` here for media), so a
 * request a role may not make fails before it touches anything.
 */
export const requestHandlers: Handlers = {
	async getState({ service, stages, room, connection, ending, shares }) {
		const view = await service.view(connection.actor);
		// Warnings of the end go to the stage; someone who comes on stage after one was sent reads it here.
		const warned = view.you.role !== 'listener' && view.space.state === 'live' ? await ending(room.spaceId) : null;
		return {
			space: spaceInfo(view.space),
			you: participantInfo(view.you),
			stage: view.stage.map(participantInfo),
			pinned: view.pinned,
			handQueue: view.handQueue.map(participantInfo),
			handCount: view.handCount,
			handRaised: view.handRaised,
			handPosition: view.handPosition,
			listenerCount: room.listenerCount,
			activeSpeaker: (await stages.find(room.spaceId))?.activeSpeaker ?? null,
			ending: warned && { ...warned, inS: Math.max(0, Math.round((warned.endsAt - Date.now()) / 1000)) },
			...shareState(stages.get(room.spaceId)?.share, shares.state(room.spaceId)),
		};
	},
	async renewToken(ctx) {
		const { token, claims } = await closingIfRevoked(ctx, ctx.service.renewToken(ctx.connection.actor, ctx.connection.claims));
		ctx.connection.renewed(claims);
		return { token };
	},
	async rotateToken(ctx) {
		// The connection that asked keeps going, on the new token; the participant's others close.
		const { connection } = ctx;
		const { token, claims } = await closingIfRevoked(ctx, ctx.service.rotateToken(connection.actor, connection.claims, connection.claims.tokenId));
		connection.renewed(claims);
		return { token };
	},
	async revokeTokens({ service, connection }, { participantId }) {
		await service.revokeTokens(connection.actor, asParticipantId(participantId));
		return ok;
	},
	async raiseHand({ service, connection, room }) {
		// Per participant (a reconnect does not refill it) and per space, before the store is asked.
		if (!room.takeRaise(connection.actor.participantId)) throw new TribuneError('rate_limited', 'too many hand raises; try again in a few seconds');
		await service.raiseHand(connection.actor);
		return ok;
	},
	async lowerHand({ service, connection }) {
		await service.lowerHand(connection.actor);
		return ok;
	},
	async handPosition({ service, connection }) {
		return service.handPosition(connection.actor);
	},
	async listHands({ service, connection }, { after, limit }) {
		const page = await service.listHands(connection.actor, after === undefined ? undefined : asParticipantId(after), limit ?? handPageSize);
		return { hands: page.hands.map(participantInfo), length: page.length, next: page.next };
	},
	async approveHand({ service, connection }, { participantId }) {
		return { participant: participantInfo(await service.approveHand(connection.actor, asParticipantId(participantId))) };
	},
	async denyHand({ service, connection }, { participantId }) {
		await service.denyHand(connection.actor, asParticipantId(participantId));
		return ok;
	},
	async leaveStage({ service, connection }) {
		return { participant: participantInfo(await service.leaveStage(connection.actor)) };
	},
	async demote({ service, connection }, { participantId }) {
		return { participant: participantInfo(await service.demote(connection.actor, asParticipantId(participantId))) };
	},
	async setCoHost({ service, connection }, { participantId, cohost }) {
		return { participant: participantInfo(await service.setCoHost(connection.actor, asParticipantId(participantId), cohost)) };
	},
	async mute(ctx, { participantId }) {
		const participant = await ctx.service.mute(ctx.connection.actor, asParticipantId(participantId));
		await applyMute(ctx, participant);
		return { participant: participantInfo(participant) };
	},
	async unmute(ctx, { participantId }) {
		const participant = await ctx.service.unmute(ctx.connection.actor, asParticipantId(participantId));
		await applyMute(ctx, participant);
		return { participant: participantInfo(participant) };
	},
	async remove({ service, connection }, { participantId, ban, banAddress }) {
		await service.remove(connection.actor, asParticipantId(participantId), ban, banAddress ?? false);
		return ok;
	},
	async pin({ service, connection }, { participantId }) {
		return { pinned: await service.pin(connection.actor, asParticipantId(participantId)) };
	},
	async unpin({ service, connection }, { participantId }) {
		return { pinned: await service.unpin(connection.actor, asParticipantId(participantId)) };
	},
	async reorderPins({ service, connection }, { participantIds }) {
		return { pinned: await service.reorderPins(connection.actor, participantIds.map(asParticipantId)) };
	},
	async react({ service, connection }, { reaction }) {
		await service.react(connection.actor, reaction);
		return ok;
	},
	async startSpace({ service, connection }) {
		return { space: spaceInfo(await service.start(connection.actor)) };
	},
	async endSpace({ service, connection }) {
		return { space: spaceInfo(await service.end(connection.actor)) };
	},
	async setCaptionMode({ service, connection }, { captionMode }) {
		return { space: spaceInfo(await service.setCaptionMode(connection.actor, captionMode)) };
	},
	async getRouterRtpCapabilities(ctx) {
		const stage = await stageFor(ctx);
		return { rtpCapabilities: stage.rtpCapabilities as unknown as Record<string, unknown> };
	},
	async createTransport(ctx, { direction }) {
		const peer = await peerFor(ctx);
		const t = await peer.createWebRtcTransport(direction);
		return {
			id: t.id,
			iceParameters: t.iceParameters as unknown as Record<string, unknown>,
			iceCandidates: t.iceCandidates as unknown as Record<string, unknown>[],
			dtlsParameters: t.dtlsParameters as unknown as Record<string, unknown>,
			...(ctx.iceServers && { iceServers: ctx.iceServers(ctx.connection.actor.participantId) }),
		};
	},
	async connectTransport(ctx, { transportId, dtlsParameters }) {
		await (await peerFor(ctx)).connectTransport(transportId, dtlsParameters as unknown as DtlsParameters);
		return ok;
	},
	async produce(ctx, { transportId, kind, rtpParameters, source, replace }) {
		const me = await ctx.service.require(ctx.connection.actor, kind === 'audio' ? 'publish_audio' : 'publish_video');
		const peer = await peerFor(ctx);
		let replacing: string | undefined;
		if (source === 'screen') {
			// One share per space: another's is replaced only when asked for, and only by someone who may take it. The
			// stage ends it (`replaced`) once the new share's consumers exist, so every page goes from one to the other.
			const current = ctx.stages.get(ctx.room.spaceId)?.share;
			if (current && current.peerId !== me.id) {
				const sharer = ctx.room.get(asParticipantId(current.peerId))?.participant;
				if (!replace) throw new TribuneError('conflict', `${sharer?.displayName ?? 'someone else'} is sharing their screen`);
				if (!mayReplaceShare(me.role, sharer?.role)) throw new TribuneError('forbidden', 'a speaker cannot replace the screen share of a host or co-host');
				replacing = current.peerId;
			}
		}
		const producer = await peer.produce(transportId, kind, rtpParameters as unknown as RtpParameters, source, replacing);
		return { producerId: producer.id };
	},
	async closeProducer(ctx, { producerId }) {
		(await peerFor(ctx)).closeProducer(producerId);
		return ok;
	},
	async setRtpCapabilities(ctx, { rtpCapabilities }) {
		await (await peerFor(ctx)).setRtpCapabilities(rtpCapabilities as unknown as RtpCapabilities);
		return ok;
	},
	async resumeConsumer(ctx, { consumerId }) {
		await (await peerFor(ctx)).resumeConsumer(consumerId);
		return ok;
	},
	async stopShare({ service, stages, room, connection, shares }, { participantId }) {
		const me = connection.actor.participantId;
		const target = participantId ?? me;
		// Your own share, or, as host or co-host, anyone's.
		await service.require(connection.actor, target === me ? 'publish_audio' : 'manage_stage');
		const stage = stages.get(room.spaceId);
		if (!stage && shares.state(room.spaceId).share?.participantId === target) {
			throw new TribuneError('conflict', 'this space\'s stage is served by another server: reconnect to stop the share');
		}
		const ended = shares.stop(stage, target === me ? 'stopped' : 'stopped_by_moderator', target);
		if (!ended) throw new TribuneError('not_found', 'no screen share by that participant');
		return { share: toShareInfo(ended) };
	},
	async setSharePolicy({ service, stages, room, connection, shares }, { speakersMayShare }) {
		await service.require(connection.actor, 'manage_stage');
		await shares.setPolicy(room.spaceId, stages, speakersMayShare);
		return { speakersMayShare };
	},
};

/** `getState`'s share fields: the stage's own share where this node hosts it, else what the stage's node said. */
function shareState(local: ScreenShare | undefined, known: { share: ShareInfo | null; speakersMayShare: boolean }): Pick<StateData, 'screenShare' | 'speakersMayShare'> {
	return { screenShare: local ? toShareInfo(local) : known.share, speakersMayShare: known.speakersMayShare };
}

/**
 * Pauses or resumes the participant's audio at the server before the reply goes out, so "muted" in a reply means
 * no audio leaves the SFU. (The muteChanged event does the same for peers whose mute came from elsewhere.)
 */
async function applyMute({ stages, room }: HandlerContext, participant: Participant): Promise<void> {
	await stages.get(room.spaceId)?.getPeer(participant.id)?.setAudioMuted(participant.mute !== 'none');
}

/** The space's stage, for someone on it while the space is live. */
async function stageFor({ service, stages, connection }: HandlerContext): Promise<Stage> {
	await service.require(connection.actor, 'publish_audio');
	const space = await service.getSpace(connection.actor.spaceId);
	if (space.state !== 'live') throw new TribuneError('conflict', 'the space is not live');
	return stages.open(space.id);
}

/** The connection's peer on the stage, added with its role's grants the first time. */
async function peerFor(ctx: HandlerContext): Promise<StagePeer> {
	const { connection, service } = ctx;
	if (connection.peer && !connection.peer.closed) return connection.peer;
	const stage = await stageFor(ctx);
	const id = connection.actor.participantId;
	// A peer left by an older connection of the same participant is replaced.
	stage.getPeer(id)?.close();
	const [me, space] = await Promise.all([service.require(connection.actor, 'publish_audio'), service.getSpace(connection.actor.spaceId)]);
	const peer = stage.addPeer(id, publishGrantsFor(me.role, space.settings, ctx.shares.policy(space.id)));
	peer.on('newconsumer', (info) => connection.send('newConsumer', { ...info, rtpParameters: info.rtpParameters as unknown as Record<string, unknown> }));
	peer.on('consumerclosed', (consumerId) => connection.send('consumerClosed', { consumerId }));
	if (connection.closed) {
		peer.close();
		throw new TribuneError('conflict', 'connection closed');
	}
	connection.peer = peer;
	// The role or mute may have changed while the peer was being added; apply what the store says now.
	const now = await service.require(connection.actor, 'publish_audio').catch(() => undefined);
	if (!now) {
		peer.close();
		connection.peer = undefined;
		throw new TribuneError('forbidden', 'no longer on stage');
	}
	peer.setGrants(publishGrantsFor(now.role, space.settings, ctx.shares.policy(space.id)));
	if (now.mute !== 'none') await peer.setAudioMuted(true);
	return peer;
}

/** Maps what a handler threw to a stable code; unknown errors become `internal` (and the caller logs them). */
export function classifyError(error: unknown): { code: ErrorCode; message: string; unexpected: boolean } {
	if (error instanceof TribuneError) return { code: error.code, message: error.message, unexpected: false };
	if (error instanceof StageError) return { code: error.code, message: error.message, unexpected: false };
	// Redis away (a node's request path fails fast then): a retryable 503, never an internal error with Redis's words.
	if (isRedisUnavailable(error)) return { code: 'unavailable', message: redisUnavailable().message, unexpected: false };
	if (error instanceof Error) {
		// mediasoup validates the client's media parameters and throws these for bad ones.
		if (error.name === 'TypeError' || error.name === 'UnsupportedError') return { code: 'bad_request', message: 'invalid media parameters', unexpected: false };
		if (error.name === 'InvalidStateError') return { code: 'conflict', message: 'media object closed', unexpected: false };
	}
	return { code: 'internal', message: 'internal error', unexpected: true };
}
