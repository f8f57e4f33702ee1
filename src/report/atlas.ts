/**
 * The neuron atlas page (`index.html` of an atlas folder, src/node/atlasRun.ts): per layer, one card
 * per channel with its feature visualisation and its top dataset patches, the activation each
 * reached, and the settings they were made with.
 */
import type { AtlasIndex } from '../pathways/atlas.ts';
import { escapeHtml, reportPage } from './html.ts';

/** The atlas page's HTML for an atlas index (image paths relative to the atlas folder). */
export function atlasReport(idx: AtlasIndex): string {
  const img = (src: string, size: number, title: string) =>
    `<img src="${escapeHtml(src)}" width="${size}" height="${size}" title="${escapeHtml(title)}" style="image-rendering:pixelated;border:1px solid #ccc;margin:1px">`;
  const fv = idx.featureVis;
  const sections = [
    {
      title: 'What this is',
      html: `<p>Every channel of ${Object.keys(idx.neurons).length} layer(s) of <b>${escapeHtml(idx.model.name)}</b> (${escapeHtml(idx.model.architecture)}): ${
        fv
          ? `a feature visualisation (Lucid's recipe: ${fv.steps} steps of Adam ${fv.learningRate} on a ${fv.size}x${fv.size} Fourier-parameterised image${fv.transforms ? ', transforms' : ''}${fv.redirectedRelu ? ', redirected ReLU for 16 steps' : ''}, seed ${fv.seed}; the number under it is the channel's spatial max on it)`
          : 'no feature visualisation'
      }${
        idx.patches
          ? ` and the ${idx.patches.count} images of ${escapeHtml(idx.patches.data)} (${idx.patches.images} images) that activate it most, cropped to its receptive field (the first one's activation under them)`
          : ''
      }. Model hash ${idx.modelHash.slice(0, 16)}.</p>`,
    },
    ...Object.entries(idx.neurons).map(([layer, neurons]) => ({
      title: `Layer ${layer}`,
      html: `<div style="display:flex;flex-wrap:wrap;gap:8px">${Object.entries(neurons)
        .sort((a, b) => Number(a[0]) - Number(b[0]))
        .map(
          ([c, n]) =>
            `<div style="border:1px solid #ddd;padding:4px;font-size:11px"><div><b>${escapeHtml(c)}</b></div>${
              n.featureVis
                ? `${img(n.featureVis.file, 72, 'feature visualisation')}<div>${n.featureVis.activation.toPrecision(3)}</div>`
                : ''
            }${
              n.patches
                ? `<div>${n.patches
                    .slice(0, 5)
                    .map((p) => img(p.file, 28, `image ${p.image}: ${p.activation.toPrecision(3)}`))
                    .join('')}</div><div>${n.patches[0]?.activation.toPrecision(3) ?? ''}</div>`
                : ''
            }</div>`,
        )
        .join('')}</div>`,
    })),
  ];
  return reportPage(`Neuron atlas of ${idx.model.name}`, sections, idx.provenance);
}
