import type { Role } from '../Space.js';

/**
 * Everything a participant may do, granted explicitly. Nothing is allowed unless a grant says so, and every
 * handler asks for the grant it needs before it does anything.
 */
export type Grant =
	| 'listen'
	| 'react'
	| 'raise_hand'
	| 'publish_audio'
	| 'publish_video'
	| 'mute_self'
	| 'leave_stage'
	/** Approve or deny hands, demote, mute and unmute others, pin speakers. */
	| 'manage_stage'
	/** Remove (and ban) participants of lower rank. */
	| 'remove_participant'
	/** Make a speaker a co-host, or a co-host a speaker. */
	| 'manage_cohosts'
	| 'start_space'
	| 'end_space'
	/** Change how the space shows captions, and issue captioner tokens. */
	| 'manage_captions'
	/** Get a new token of your own; every older one stops working. */
	| 'rotate_token'
	/** Revoke every token of a participant of lower rank (which also removes them, unbanned). */
	| 'revoke_tokens';

const listener: readonly Grant[] = ['listen', 'react', 'raise_hand', 'rotate_token'];
const speaker: readonly Grant[] = ['listen', 'react', 'publish_audio', 'publish_video', 'mute_self', 'leave_stage', 'rotate_token'];
const cohost: readonly Grant[] = [...speaker, 'manage_stage', 'remove_participant', 'manage_captions', 'revoke_tokens'];
// The host cannot leave the stage: the space would have nobody to end it.
const host: readonly Grant[] = [...cohost.filter((g) => g !== 'leave_stage'), 'manage_cohosts', 'start_space', 'end_space'];

const table: Readonly<Record<Role, ReadonlySet<Grant>>> = Object.freeze({
	listener: new Set(listener),
	speaker: new Set(speaker),
	cohost: new Set(cohost),
	host: new Set(host),
});

/** The grants of a role. Pure; an unknown role gets none. */
export function grantsForRole(role: Role): ReadonlySet<Grant> {
	return Object.hasOwn(table, role) ? table[role] : new Set();
}

export function hasGrant(role: Role, grant: Grant): boolean {
	return grantsForRole(role).has(grant);
}
