import { describe, expect, it } from 'vitest';
import { parseRoute } from './parseRoute.js';

describe('parseRoute', () => {
	it('maps the root to the create page and share links to the space page', () => {
		expect(parseRoute('/')).toEqual({ name: 'create' });
		expect(parseRoute('/s/abc_D-9')).toEqual({ name: 'space', spaceId: 'abc_D-9' });
		expect(parseRoute('/embed/xyz/')).toEqual({ name: 'embed', spaceId: 'xyz' });
	});

	it('maps the operator\'s page and the host invite link', () => {
		expect(parseRoute('/admin')).toEqual({ name: 'admin' });
		expect(parseRoute('/admin/')).toEqual({ name: 'admin' });
		expect(parseRoute('/host-invite')).toEqual({ name: 'hostInvite' });
		expect(parseRoute('/admin/x')).toEqual({ name: 'notFound' });
		expect(parseRoute('/host-invites')).toEqual({ name: 'notFound' });
	});

	it('rejects malformed space ids instead of passing them to the API', () => {
		expect(parseRoute('/s/a%2Fb')).toEqual({ name: 'notFound' });
		expect(parseRoute('/s/')).toEqual({ name: 'notFound' });
		expect(parseRoute('/s/a/b')).toEqual({ name: 'notFound' });
	});
});
