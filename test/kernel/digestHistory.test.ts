/** The transport's memory of signatures, which drops replayed messages. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DigestHistory, DIGEST_HISTORY_SIZE } from '../../kernel/jupyter/digestHistory';

test('a signature is new once; a repeat is a replay', () => {
  const h = new DigestHistory();
  assert.equal(h.capacity, DIGEST_HISTORY_SIZE);
  assert.equal(h.add('a1'), true);
  assert.equal(h.add('b2'), true);
  assert.equal(h.add('a1'), false);
  assert.equal(h.size, 2);
});

test('empty signatures (signing off) are never taken for replays', () => {
  const h = new DigestHistory();
  assert.equal(h.add(''), true);
  assert.equal(h.add(''), true);
  assert.equal(h.size, 0);
});

test('the history is bounded: the oldest signatures are forgotten first', () => {
  const h = new DigestHistory(3);
  for (const s of ['s1', 's2', 's3', 's4']) assert.equal(h.add(s), true);
  assert.equal(h.size, 3);
  assert.equal(h.add('s2'), false);
  assert.equal(h.add('s1'), true, 's1 was the oldest and is forgotten');
  assert.equal(h.add('s4'), false);
  assert.throws(() => new DigestHistory(0), /capacity must be a positive integer/);
});
