/**
 * The report of `advlens attack` as files: per image its original, adversarial (the 8-bit pixels
 * the predictions were made on) and amplified perturbation PNGs, `index.html` and `attack.json`.
 */
import type { AttackPictures, AttackSetRow, Top } from '../attacks/attackSet.ts';
import { jsonFile, type ImageEncoder, type ReportFile } from './files.ts';
import { escapeHtml, htmlTable, imageCell, reportPage } from './html.ts';

/** A row of `attack.json`: an {@link AttackSetRow} with its files. */
export type AttackReportRow = AttackSetRow & {
  files: { original: string; adversarial: string; perturbation: string };
};

/** Input of {@link attackReport}. */
export interface AttackReportInput {
  title: string;
  rows: AttackSetRow[];
  pictures: AttackPictures[];
  /** Image shape [H, W, C]. */
  shape: readonly [number, number, number];
  provenance: object;
}

/** `7 98.1%`: a class and its probability. */
export const topText = (t: Top) => `${t.label} ${(100 * t.probability).toFixed(1)}%`;

/** The files of an attack report and the rows `attack.json` holds. */
export async function attackReport(
  input: AttackReportInput,
  encoder: ImageEncoder,
): Promise<{ files: ReportFile[]; results: AttackReportRow[] }> {
  const files: ReportFile[] = [];
  const results: AttackReportRow[] = [];
  for (const [j, row] of input.rows.entries()) {
    const stem = String(j).padStart(3, '0');
    const names = {
      original: `${stem}-original.png`,
      adversarial: `${stem}-adversarial.png`,
      perturbation: `${stem}-perturbation.png`,
    };
    const pic = input.pictures[j];
    for (const key of ['original', 'adversarial', 'perturbation'] as const)
      files.push({ path: names[key], content: await encoder.png(pic[key], input.shape) });
    results.push({ ...row, files: names });
  }
  files.push(jsonFile('attack.json', { results, provenance: input.provenance }));
  const size = Math.min(224, Math.max(112, input.shape[1]));
  const table = htmlTable(
    [
      'input',
      'original',
      'adversarial',
      'perturbation (amplified)',
      'before',
      'after (saved PNG)',
      'L-inf',
      'L2',
    ],
    results.map((r) => [
      r.input,
      imageCell(r.files.original, size),
      imageCell(r.files.adversarial, size),
      imageCell(r.files.perturbation, size, `×${r.amplify.toFixed(1)}`),
      topText(r.before[0]),
      { html: `<span class="${r.savedSuccess ? 'wrong' : ''}">${escapeHtml(topText(r.saved[0]))}</span>` },
      r.norms.linf,
      r.norms.l2,
    ]),
  );
  files.push({
    path: 'index.html',
    content: reportPage(
      input.title,
      [
        {
          title: 'Images',
          html:
            '<p>The perturbation is drawn as 0.5 + k (x\' - x): grey is no change. "after" is the prediction on the saved 8-bit PNG, red where the attack succeeded.</p>' +
            `<div class="scroll">${table}</div>`,
        },
      ],
      input.provenance,
    ),
  });
  return { files, results };
}
