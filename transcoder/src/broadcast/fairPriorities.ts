/** BullMQ's highest priority number (the lowest priority). */
const lowestPriority = 2_097_152;

/**
 * The BullMQ priority of a new broadcast whose owner already has `ownerJobs` broadcasts running or waiting: 1 for an
 * owner's first, 2 for their second, and so on. Transcoders take lower numbers first, and jobs of equal number in
 * the order they were queued, so an owner's second broadcast waits behind every other owner's first.
 */
export function fairPriority(ownerJobs: number): number {
	return Math.min(lowestPriority, 1 + Math.max(0, Math.floor(ownerJobs)));
}

/** A broadcast job as the fair order sees it. `owner` absent: an owner of its own. */
export interface FairJob {
	id: string;
	owner?: string;
	/** When it was queued, ms (BullMQ's `job.timestamp`). */
	queuedAt: number;
}

/**
 * The priority each waiting job should have now: the one it would get if queued now behind its owner's running jobs
 * and their waiting jobs queued before it (`fairPriority`). In queue order (ties by id, so every node plans alike):
 * the order in which `BroadcastQueue` gives changed priorities, so jobs raised together keep their queue order.
 */
export function fairPriorities(running: readonly Pick<FairJob, 'owner'>[], waiting: readonly FairJob[]): { id: string; priority: number }[] {
	const jobs = new Map<string, number>();
	for (const { owner } of running) if (owner !== undefined) jobs.set(owner, (jobs.get(owner) ?? 0) + 1);
	const byQueueTime = [...waiting].sort((a, b) => a.queuedAt - b.queuedAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
	return byQueueTime.map((job) => {
		const ahead = job.owner === undefined ? 0 : (jobs.get(job.owner) ?? 0);
		if (job.owner !== undefined) jobs.set(job.owner, ahead + 1);
		return { id: job.id, priority: fairPriority(ahead) };
	});
}
