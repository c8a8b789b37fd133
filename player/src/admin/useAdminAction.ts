import { ref } from 'vue';
import { ApiError } from '../api/restApi.js';
import { formatWait } from '../space/describeError.js';

/**
 * A refusal as the operator reads it: the server's own message (written for people, and more precise here than the
 * player's sentences for listeners and hosts: "this server holds 10000 host invites, its most; …"), and the wait.
 */
export function operatorSentence(e: ApiError): string {
	const text = e.message.trim();
	const sentence = `${text.charAt(0).toUpperCase()}${text.slice(1)}${/[.!?]$/.test(text) ? '' : '.'}`;
	return e.retryAfterS === undefined ? sentence : `${sentence} Try again in ${formatWait(e.retryAfterS)}.`;
}

/**
 * Runs the admin page's calls: one at a time per section, the outcome said in a status line (`status`, for a
 * `role="status"` element), and a refused session (401: expired, or the server's key changed) handed to `onExpired`
 * so the page asks to sign in again.
 */
export function useAdminAction(onExpired: () => void) {
	const busy = ref(false);
	const status = ref('');
	const failed = ref(false);

	async function run<T>(action: () => Promise<T>, describe: { done?: (result: T) => string; failed: string }): Promise<T | undefined> {
		busy.value = true;
		try {
			const result = await action();
			failed.value = false;
			if (describe.done) status.value = describe.done(result);
			return result;
		} catch (e) {
			if (e instanceof ApiError && e.status === 401) {
				onExpired();
				return undefined;
			}
			failed.value = true;
			status.value = `${describe.failed} ${e instanceof ApiError ? operatorSentence(e) : ''}`.trim();
			return undefined;
		} finally {
			busy.value = false;
		}
	}

	return { busy, status, failed, run };
}
