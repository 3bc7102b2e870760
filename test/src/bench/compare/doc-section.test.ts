import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BEGIN, END, HEADING, replaceSection } from './doc-section.js';

describe('the compare section of docs/benchmarks.md', () => {
  it('is appended under its own heading when the markers are absent', () => {
    const doc = '# Benchmarks\n\n## Cluster\n\ntext\n';
    assert.equal(
      replaceSection(doc, 'TABLE\n'),
      `# Benchmarks\n\n## Cluster\n\ntext\n\n${HEADING}\n\n${BEGIN}\nTABLE\n${END}\n`,
    );
  });

  it('replaces only what lies between the markers', () => {
    const doc = `# B\n\n${HEADING}\n\nintro kept\n\n${BEGIN}\nold table\nold text\n${END}\n\n## After\n\nkept too\n`;
    assert.equal(
      replaceSection(doc, 'new table'),
      `# B\n\n${HEADING}\n\nintro kept\n\n${BEGIN}\nnew table\n${END}\n\n## After\n\nkept too\n`,
    );
  });

  it('is idempotent: the same body twice gives the same document', () => {
    const once = replaceSection('# B\n', 'body');
    assert.equal(replaceSection(once, 'body'), once);
  });

  it('refuses markers it cannot pair', () => {
    assert.throws(() => replaceSection(`${END}\n${BEGIN}\n`, 'x'), /expected one/);
    assert.throws(() => replaceSection(`${BEGIN}\n${BEGIN}\n${END}\n`, 'x'), /expected one/);
    assert.throws(() => replaceSection(`${BEGIN}\nno end\n`, 'x'), /expected one/);
  });
});
