import { createHmac, randomBytes } from 'node:crypto';
import { purposeKey } from '../auth/purposeKey.js';

declare const brand: unique symbol;
/** A string that the type system keeps apart from other strings of the same shape. */
export type Brand<T, B extends string> = T & { readonly [brand]: B };

export type SpaceId = Brand<string, 'SpaceId'>;
export type ParticipantId = Brand<string, 'ParticipantId'>;

/** Space lifecycle: scheduled (created) → live → ended. `ended` is final. */
export type SpaceState = 'created' | 'live' | 'ended';

/** Roles, highest first. The stage is the host, the co-hosts and the speakers. */
export type Role = 'host' | 'cohost' | 'speaker' | 'listener';
export const roles: readonly Role[] = ['host', 'cohost', 'speaker', 'listener'];
export const stageRoles: readonly Role[] = ['host', 'cohost', 'speaker'];

/**
 * Who paused a speaker's microphone at the server. `self`: the speaker, who may unmute; `moderator`: a host or
 * co-host, and only a host or co-host may unmute.
 */
export type MuteState = 'none' | 'self' | 'moderator';

/**
 * How a space shows captions: not at all, as the broadcast's WebVTT subtitle track (`sidecar`), drawn onto the
 * picture (`burned-in`), or both. Live stage participants see captions over signaling whenever it is not `off`.
 */
export type CaptionMode = 'off' | 'sidecar' | 'burned-in' | 'both';
export const captionModes: readonly CaptionMode[] = ['off', 'sidecar', 'burned-in', 'both'];

export interface SpaceSettings {
	captionMode: CaptionMode;
	recording: boolean;
	video: boolean;
	/** People on stage at once, host and co-hosts included. */
	maxSpeakers: number;
}

export interface Space {
	id: SpaceId;
	title: string;
	description: string;
	state: SpaceState;
	hostId: ParticipantId;
	/** The identity that created the space (the host's): what the live-spaces-per-host limit counts. */
	owner: string;
	settings: SpaceSettings;
	/** Epoch ms. */
	createdAt: number;
	startedAt: number | null;
	endedAt: number | null;
}

export interface Participant {
	/** `participantIdFor(spaceId, identity)`: one identity is one participant per space. */
	id: ParticipantId;
	identity: string;
	/** `clientAddressTag` of the address of their latest join (absent for participants added by the server). */
	addr?: string;
	displayName: string;
	role: Role;
	mute: MuteState;
	/** Epoch ms. */
	joinedAt: number;
}

/** At most this many co-hosts besides the host. */
export const maxCoHosts = 2;

/** Defaults for a new space's settings. */
export const defaultSpaceSettings: Readonly<SpaceSettings> = Object.freeze({
	captionMode: 'off',
	recording: false,
	video: false,
	maxSpeakers: 13,
});

export function isOnStage(role: Role): boolean {
	return role !== 'listener';
}

/** Rank for moderation: an actor may only act on someone of lower rank (a co-host cannot remove the host). */
export function roleRank(role: Role): number {
	return { host: 3, cohost: 2, speaker: 1, listener: 0 }[role];
}

/** 128 random bits, URL-safe: unguessable, so a space id doubles as its share link's secret part. */
export function newSpaceId(): SpaceId {
	return randomBytes(16).toString('base64url') as SpaceId;
}

/**
 * Who someone is, across spaces: `op:<sub>` (a subject named by the operator's server API), `host:<hostId>` (a host
 * identity from an invite), `anon:<22 base64url chars>` (an anonymous browser identity, kept by the browser as a
 * signed credential) or `synthetic:<random>` (a speaker the server puts on stage). Nothing else is an identity.
 */
export const identityPattern = /^(?:op:[A-Za-z0-9._@:+-]{1,96}|host:[A-Za-z0-9_-]{1,64}|anon:[A-Za-z0-9_-]{22}|synthetic:[A-Za-z0-9_-]{1,64})$/;

export function isIdentity(value: string): boolean {
	return identityPattern.test(value);
}

/** A new anonymous identity: 128 random bits. */
export function newAnonymousIdentity(): string {
	return `anon:${randomBytes(16).toString('base64url')}`;
}

export function newSyntheticIdentity(): string {
	return `synthetic:${randomBytes(12).toString('base64url')}`;
}

/**
 * A participant's id: derived from the space and the identity, so an identity is one participant per space, and a
 * ban of the id bans the identity there whatever token it comes back with (or without). HMAC-SHA256 under the token
 * key's participant-id subkey (`purposeKey`): ids are public (every participant list, a space's `hostId`), and an
 * unkeyed hash would let anyone test whether `op:alice@example.com` hosts a space. A new token key gives identities
 * new ids in the spaces they join from then on.
 */
export function participantIdFor(tokenKey: Uint8Array, spaceId: SpaceId, identity: string): ParticipantId {
	return createHmac('sha256', purposeKey(tokenKey, 'participant-id')).update(`${spaceId}\n${identity}`).digest('base64url').slice(0, 16) as ParticipantId;
}

/**
 * Letters that show as nothing but a gap (Hangul fillers, the braille blank): compared as a space, so
 * "Hana\u3164Host" meets "Hana Host". Default-ignorable code points (zero-width spaces and joiners, soft hyphens,
 * variation selectors, tag characters) show as nothing at all and are dropped.
 */
const blankLetters = /[\u115F\u1160\u2800\u3164\uFFA0]/gu;
const ignorable = /\p{Default_Ignorable_Code_Point}/gu;

/**
 * What two display names are compared as: blank-looking letters as spaces and invisible code points dropped, NFKC
 * (full-width, ligatures and compatibility forms folded), case folded (upper then lower, so `ß` meets `SS`), runs of
 * whitespace as one space, trimmed. Look-alike letters of other scripts (Cyrillic `а` for Latin `a`) are not folded:
 * the role badge, not the name, says who hosts.
 */
export function displayNameKey(name: string): string {
	const visible = name.replace(blankLetters, ' ').replace(ignorable, '');
	return visible.normalize('NFKC').toUpperCase().toLowerCase().normalize('NFKC').replace(ignorable, '').replace(/\s+/gu, ' ').trim();
}

/** Ids arrive as strings from tokens and messages; this is the one place that brands them after validation. */
export const asSpaceId = (id: string): SpaceId => id as SpaceId;
export const asParticipantId = (id: string): ParticipantId => id as ParticipantId;
