import type { PublishGrants } from '@tribune/ingest';
import { hasGrant } from '../spaces/roles/grantsForRole.js';
import type { Role, SpaceSettings } from '../spaces/Space.js';

/** Who may share a screen besides hosts and co-hosts (the host's switch; speakers may unless it is turned off). */
export interface SharePolicy {
	speakersMayShare: boolean;
}

export const defaultSharePolicy: Readonly<SharePolicy> = Object.freeze({ speakersMayShare: true });

/**
 * What the stage lets a participant publish: their role's grants, video only in spaces with video on, and a screen
 * share (a picture, so also only with video on) for hosts and co-hosts, and for speakers while the policy lets them.
 */
export function publishGrantsFor(role: Role, settings: Pick<SpaceSettings, 'video'>, policy: SharePolicy = defaultSharePolicy): PublishGrants {
	const video = hasGrant(role, 'publish_video') && settings.video;
	return {
		audio: hasGrant(role, 'publish_audio'),
		video,
		screen: video && (hasGrant(role, 'manage_stage') || policy.speakersMayShare),
	};
}
