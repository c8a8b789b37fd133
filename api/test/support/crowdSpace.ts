import { asSpaceId } from '../../src/spaces/Space.js';
import type { SpaceService } from '../../src/spaces/SpaceService.js';

/** Joins `count` listeners through the service (what POST /join does, minus HTTP) and returns their tokens. */
export async function joinListeners(service: SpaceService, spaceId: string, count: number, concurrency = 50): Promise<string[]> {
	const tokens: string[] = new Array<string>(count);
	let next = 0;
	const worker = async (): Promise<void> => {
		while (next < count) {
			const i = next++;
			tokens[i] = (await service.join(asSpaceId(spaceId), { displayName: `Listener ${i}` })).token;
		}
	};
	await Promise.all(Array.from({ length: concurrency }, worker));
	return tokens;
}
