import { z } from 'zod';
import { captionModeSchema } from '../captions/captionFeed.js';

/**
 * The stage link: how a transcoder, anywhere on the shared Redis, consumes a space's stage from the API node whose
 * mediasoup router hosts it. The node publishes what is on stage (snapshots); the transcoder asks it, by RPC over
 * Redis pub/sub, for plain-RTP consumers aimed at its own ports. Everything a transcoder creates belongs to a
 * session it keeps alive with `renew`; a transcoder that dies stops renewing and the node closes what it left.
 */

const id = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'expected 1-64 of [A-Za-z0-9_-]');
const port = z.number().int().min(1024).max(65535);

/** A speaker as the broadcast needs them. */
export const stageLinkSpeakerSchema = z.object({
	peerId: id,
	name: z.string().max(200),
	audioProducerId: z.string().max(64).optional(),
	videoProducerId: z.string().max(64).optional(),
	/** Muted by themselves or a host: their producer is paused. */
	muted: z.boolean(),
});

/**
 * The space's screen share (one at a time): the sharer and their producers. The node publishes it only while the
 * share's video producer is open and not paused; a speaker's `videoProducerId` is their camera only.
 */
export const stageLinkScreenSchema = z.object({
	/** Who shares; on stage (a share by someone not on stage is not drawn). */
	peerId: id,
	/** The share's video producer (VP8 is composited; another codec leaves the share's box black). */
	videoProducerId: z.string().max(64),
	/** The shared tab's audio, when the sharer included it: mixed in the middle of the stereo field. */
	audioProducerId: z.string().max(64).optional(),
});

/** What is on a space's stage, published by the node that hosts it on every change. */
export const stageLinkSnapshotSchema = z.object({
	spaceId: id,
	/** API node hosting the space's router: where consume requests go. */
	node: id,
	/** Increases with every change, so a late message never overwrites a newer one. */
	version: z.number().int().nonnegative(),
	speakers: z.array(stageLinkSpeakerSchema).max(64),
	pinned: z.array(id).max(64),
	activeSpeakerId: id.optional(),
	/** How the space shows captions (the space's `captionMode` setting); absent means 'off'. */
	captionMode: captionModeSchema.optional(),
	/** The screen being shared, if any: the broadcast switches to its presentation layout while it lasts. */
	screenShare: stageLinkScreenSchema.optional(),
});
export type StageLinkSnapshot = z.output<typeof stageLinkSnapshotSchema>;
export type StageLinkSpeaker = z.output<typeof stageLinkSpeakerSchema>;
export type StageLinkScreen = z.output<typeof stageLinkScreenSchema>;

export const stageLinkMethods = {
	/** Creates a paused consumer of `producerId` on a PlainTransport that sends RTP to ip:rtpPort, RTCP to rtcpPort. */
	consume: {
		params: z.object({ sessionId: id, spaceId: id, producerId: z.string().max(64), ip: z.ipv4().or(z.ipv6()), rtpPort: port, rtcpPort: port }).strict(),
		result: z.object({ consumerId: z.string(), kind: z.enum(['audio', 'video']), rtpParameters: z.any() }),
	},
	/** Resumes consumers (after the receiver bound its ports) and asks video producers for a keyframe. */
	resume: {
		params: z.object({ sessionId: id, consumerIds: z.array(z.string().max(64)).max(128) }).strict(),
		result: z.object({ resumed: z.number().int() }),
	},
	/**
	 * Asks the producers of a session's resumed video consumers for a keyframe (audio and paused consumers are
	 * skipped). A new run repeats it until its video flows: one keyframe request can be lost, and ffmpeg decodes
	 * nothing before a keyframe.
	 */
	requestKeyframe: {
		params: z.object({ sessionId: id, consumerIds: z.array(z.string().max(64)).max(128) }).strict(),
		result: z.object({ requested: z.number().int() }),
	},
	/** Closes consumers that a new plan no longer uses. */
	closeConsumers: {
		params: z.object({ sessionId: id, consumerIds: z.array(z.string().max(64)).max(128) }).strict(),
		result: z.object({ closed: z.number().int() }),
	},
	/** Keeps the session's consumers alive for another `leaseMs`. */
	renew: {
		params: z.object({ sessionId: id }).strict(),
		result: z.object({ consumers: z.number().int() }),
	},
	/** Closes everything the session created. */
	release: {
		params: z.object({ sessionId: id }).strict(),
		result: z.object({ closed: z.number().int() }),
	},
} as const;

export type StageLinkMethod = keyof typeof stageLinkMethods;
export type StageLinkParams<M extends StageLinkMethod> = z.input<(typeof stageLinkMethods)[M]['params']>;
export type StageLinkResult<M extends StageLinkMethod> = z.output<(typeof stageLinkMethods)[M]['result']>;

export const stageLinkRequestSchema = z.object({
	requestId: z.string().max(64),
	replyTo: z.string().max(200),
	method: z.enum(Object.keys(stageLinkMethods) as [StageLinkMethod, ...StageLinkMethod[]]),
	params: z.unknown(),
});
export type StageLinkRequest = z.output<typeof stageLinkRequestSchema>;

export const stageLinkReplySchema = z.union([
	z.object({ requestId: z.string(), ok: z.literal(true), result: z.unknown() }),
	z.object({ requestId: z.string(), ok: z.literal(false), error: z.object({ code: z.string(), message: z.string() }) }),
]);
export type StageLinkReply = z.output<typeof stageLinkReplySchema>;

/** Redis names of the stage link, all under Tribune's key prefix. */
export const stageLinkKeys = {
	/** Channel carrying a space's snapshots. */
	snapshotChannel: (prefix: string, spaceId: string) => `${prefix}:stage:${spaceId}`,
	/** Latest snapshot of a space, for a transcoder that starts after it was published. */
	snapshotKey: (prefix: string, spaceId: string) => `${prefix}:stage:${spaceId}:snapshot`,
	/** Channel a node takes requests on. */
	requestChannel: (prefix: string, node: string) => `${prefix}:stagelink:${node}`,
	/** Channel a client takes replies on. */
	replyChannel: (prefix: string, client: string) => `${prefix}:stagelink-reply:${client}`,
};

/** How long a session's consumers live without `renew`. Clients renew every third of it. */
export const stageLinkLeaseMs = 15_000;
