/** The generated part of docs/benchmarks.md, between two markers (pure string work). */

export const BEGIN = '<!-- compare:begin -->';
export const END = '<!-- compare:end -->';
export const HEADING = '## Compared with Kafka';

/**
 * `doc` with the text between the markers replaced by `body`. Without markers, a
 * "Compared with Kafka" section holding them is appended at the end. Text outside the markers
 * is kept byte for byte.
 */
export function replaceSection(doc: string, body: string): string {
  const block = `${BEGIN}\n${body.trimEnd()}\n${END}`;
  const begin = doc.indexOf(BEGIN);
  const end = doc.indexOf(END);
  if (begin < 0 && end < 0) {
    return `${doc.trimEnd()}\n\n${HEADING}\n\n${block}\n`;
  }
  if (begin < 0 || end < begin || doc.indexOf(BEGIN, begin + 1) >= 0 || doc.indexOf(END, end + 1) >= 0) {
    throw new Error(`expected one ${BEGIN} followed by one ${END}`);
  }
  return doc.slice(0, begin) + block + doc.slice(end + END.length);
}
