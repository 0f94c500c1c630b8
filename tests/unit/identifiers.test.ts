import { integerParam } from '../../lib/shared/identifiers';
import { HttpError } from '../../lib/shared/error-catalogue';

const PAGE = { name: 'pageSize', code: 'page-size-invalid', min: 1, max: 100, fallback: 20 } as const;

describe('integerParam', () => {
  it.each([
    [undefined, 20],
    ['', 20],
    ['1', 1],
    ['100', 100],
    [42, 42],
  ])('reads %p as %p', (value, expected) => {
    expect(integerParam(value, PAGE)).toBe(expected);
  });

  it.each(['0', '101', '-1', '1.5', '10.0', ' 5', '1e2', '0x10', 'abc', '9'.repeat(40), 1.5, null, {}, ['5']])(
    'refuses %p with a 400 naming the parameter and its range',
    (value) => {
      const err = (() => {
        try {
          integerParam(value, PAGE);
        } catch (e) {
          return e;
        }
        throw new Error('accepted');
      })();
      expect(err).toBeInstanceOf(HttpError);
      expect(err).toMatchObject({ status: 400, code: 'page-size-invalid' });
      expect((err as Error).message).toBe('pageSize must be a whole number from 1 to 100.');
    },
  );

  it('has no fallback for a required parameter', () => {
    expect(() => integerParam('', { name: 'SequenceNumber', code: 'sequence-invalid', min: 0, max: 9 })).toThrow(
      'SequenceNumber must be a whole number from 0 to 9.',
    );
    expect(integerParam('0', { name: 'SequenceNumber', code: 'sequence-invalid', min: 0, max: 9 })).toBe(0);
  });
});
