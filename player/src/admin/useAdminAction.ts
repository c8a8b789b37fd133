import { ref } from 'vue';
import { ApiError } from '../api/restApi.js';
import { describeRefusal } from '../space/describeError.js';

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
			status.value = `${describe.failed} ${e instanceof ApiError ? describeRefusal(e.code, e.retryAfterS, e.message) : ''}`.trim();
			return undefined;
		} finally {
			busy.value = false;
		}
	}

	return { busy, status, failed, run };
}
