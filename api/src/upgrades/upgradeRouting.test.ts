import { describe, expect, it } from 'vitest';
import { unroutedUpgradeStatus, upgradeTarget } from './upgradeRouting.js';

describe('unroutedUpgradeStatus', () => {
	const paths = ['/ws', '/captions/ws'];
	it('leaves served paths to their endpoints, query strings included', () => {
		expect(unroutedUpgradeStatus('/ws?token=a', paths)).toBeUndefined();
		expect(unroutedUpgradeStatus('/captions/ws', paths)).toBeUndefined();
	});
	it('refuses other paths with 404 and unparsable targets with 400', () => {
		expect(unroutedUpgradeStatus('/', paths)).toEqual({ status: 404, code: 'not_found' });
		expect(unroutedUpgradeStatus('/ws/', paths)).toEqual({ status: 404, code: 'not_found' });
		expect(unroutedUpgradeStatus(undefined, paths)).toEqual({ status: 404, code: 'not_found' });
		expect(unroutedUpgradeStatus('http://[', paths)).toEqual({ status: 400, code: 'bad_request' });
		expect(upgradeTarget('http://[')).toBeUndefined();
	});
});
