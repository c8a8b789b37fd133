import type { Participant, Space } from '../spaces/Space.js';
import type { ParticipantInfo, SpaceInfo } from './protocol.js';

/** A participant as the protocol shows them to others (no join time). */
export function participantInfo(p: Participant): ParticipantInfo {
	return { id: p.id, displayName: p.displayName, role: p.role, mute: p.mute };
}

export function spaceInfo(s: Space): SpaceInfo {
	return {
		id: s.id,
		title: s.title,
		description: s.description,
		state: s.state,
		hostId: s.hostId,
		settings: { ...s.settings },
		createdAt: s.createdAt,
		startedAt: s.startedAt,
		endedAt: s.endedAt,
	};
}
