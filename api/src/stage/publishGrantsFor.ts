import type { PublishGrants } from '@tribune/ingest';
import { hasGrant } from '../spaces/roles/grantsForRole.js';
import type { Role, SpaceSettings } from '../spaces/Space.js';

/** What the stage lets a participant publish: their role's grants, and video only in spaces with video on. */
export function publishGrantsFor(role: Role, settings: Pick<SpaceSettings, 'video'>): PublishGrants {
	return {
		audio: hasGrant(role, 'publish_audio'),
		video: hasGrant(role, 'publish_video') && settings.video,
	};
}
