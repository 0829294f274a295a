import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkInteger, checkNumber, checkSeed, describeRange } from '../../kernel/analysis/validate';
import { InvalidArgumentError } from '../../kernel/analysis/errors';

test('ranges read as a person writes them', () => {
  assert.equal(describeRange(Number.MIN_VALUE, Infinity), '> 0');
  assert.equal(describeRange(1, Infinity), '≥ 1');
  assert.equal(describeRange(0, Infinity), '≥ 0');
  assert.equal(describeRange(-Infinity, 10), '≤ 10');
  assert.equal(describeRange(0, 1), 'between 0 and 1');
  assert.equal(describeRange(Number.MIN_VALUE, 1), '> 0 and ≤ 1');
  assert.equal(describeRange(1e-8, 0.5), 'between 1e-8 and 0.5');
  assert.equal(describeRange(2, Number.MAX_SAFE_INTEGER, true), '≥ 2');
  assert.equal(describeRange(-Infinity, Infinity), undefined);
});

test('range messages name the function and the argument, with no 5e-324 or Infinity', () => {
  const message = (f: () => unknown) => {
    try {
      f();
    } catch (e) {
      assert.ok(e instanceof InvalidArgumentError);
      return e.message;
    }
    return assert.fail('no error');
  };
  assert.equal(message(() => checkNumber('tl.f', 'options.rate', 0, Number.MIN_VALUE)), 'tl.f: options.rate must be > 0, got 0');
  assert.equal(message(() => checkNumber('tl.f', 'options.rate', -2, Number.MIN_VALUE)), 'tl.f: options.rate must be > 0, got -2');
  assert.equal(message(() => checkNumber('tl.f', 'options.p', 1.5, 0, 1)), 'tl.f: options.p must be between 0 and 1, got 1.5');
  assert.equal(message(() => checkNumber('tl.f', 'options.p', 2, -Infinity, 1)), 'tl.f: options.p must be ≤ 1, got 2');
  assert.equal(message(() => checkInteger('tl.f', 'options.epochs', 0, 1)), 'tl.f: options.epochs must be ≥ 1, got 0');
  assert.equal(message(() => checkInteger('tl.f', 'options.classes', 9, 2, 8)), 'tl.f: options.classes must be between 2 and 8, got 9');
  assert.equal(message(() => checkInteger('tl.f', 'options.n', 1.5, 1)), 'tl.f: options.n must be an integer, got the number 1.5');
  assert.equal(message(() => checkSeed('tl.f', 'options.seed', -1)), 'tl.f: options.seed must be an integer from 0 to 2³² − 1, got the number -1');
  for (const m of [message(() => checkNumber('tl.f', 'x', 0, Number.MIN_VALUE)), message(() => checkInteger('tl.f', 'x', 0, 1))]) {
    assert.doesNotMatch(m, /5e-324|Infinity|∞|\[/);
  }
  assert.equal(checkNumber('tl.f', 'x', 0.25, 0, 1), 0.25);
  assert.equal(checkInteger('tl.f', 'x', 7, 1), 7);
});
