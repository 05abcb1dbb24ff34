// "Export report": one photo's classification, every stage and the class activation maps as ONE
// self-contained HTML file (images inline as data: URIs, styles inline, no script at all). Built
// here so the app and `reslens report` write the same file.
//
// Every text that comes from outside — class labels (a model's labels file is the model author's),
// the photo's file name, the model name — is escaped; the file also carries a CSP that allows no
// script and no network, so a label that slips through still cannot run or call home.

export interface ReportImage {
  mime: 'image/png' | 'image/jpeg';
  data: Uint8Array;
}

export interface ReportInput {
  fileName: string;
  model: { name: string; title?: string; pretrained?: boolean };
  ep: string;
  ms: number;
  createdAt: Date;
  photo: ReportImage;
  top: { label: string; prob: number; index: number }[];
  stages: {
    name: string;
    paperName: string;
    shape: [number, number, number];
    blocks: number;
    receptiveField?: { size: number; jump: number };
    note?: string;
    stats: { mean: number; max: number; zeroFraction: number };
    range?: { min: number; max: number };
    image: ReportImage;
  }[];
  cams: { label: string; prob: number; logit: number; image: ReportImage }[];
  /** How heatmaps are normalised and drawn, said once in the file. */
  legend: string;
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;', '`': '&#96;' };

/** Text safe in HTML element content and in quoted attribute values. */
export function escapeHtml(text: string): string {
  return String(text).replace(/[&<>"'`]/g, (c) => ESCAPES[c]);
}

const dataUri = (image: ReportImage): string =>
  `data:${image.mime};base64,${Buffer.from(image.data.buffer, image.data.byteOffset, image.data.byteLength).toString('base64')}`;
const percent = (p: number): string => `${(p * 100).toFixed(p < 0.001 ? 2 : 1)}%`;
const num = (v: number, digits = 3): string => (Number.isFinite(v) ? v.toFixed(digits) : '—');

const STYLE = `
body{font:14px/1.45 system-ui,sans-serif;margin:0;padding:24px;color:#1d1f23;background:#f7f7f8}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:24px 0 8px}
.muted{color:#5f6368}.top{display:flex;gap:24px;align-items:flex-start;flex-wrap:wrap}
.photo{width:224px;height:224px;border-radius:8px}
table{border-collapse:collapse}td,th{padding:4px 10px;text-align:left;border-bottom:1px solid #ddd}
.num{text-align:right;font-variant-numeric:tabular-nums}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(240px,1fr));gap:16px}
figure{margin:0;background:#fff;border:1px solid #ddd;border-radius:8px;padding:8px}
figure img{width:100%;aspect-ratio:1;border-radius:6px;display:block}figcaption{font-size:12px;margin-top:6px}
.warn{background:#fff4e5;border:1px solid #f0c36d;padding:6px 10px;border-radius:6px}
`;

/** The report as an HTML string (UTF-8). */
export function buildHtmlReport(input: ReportInput): string {
  const e = escapeHtml;
  const title = `ResLens report — ${input.fileName}`;
  const top = input.top
    .map(
      (t, i) =>
        `<tr><td class="num">${i + 1}</td><td class="label">${e(t.label)}</td><td class="num">${e(percent(t.prob))}</td><td class="num">${t.index}</td></tr>`,
    )
    .join('');
  const stages = input.stages
    .map((s) => {
      const rf = s.receptiveField ? ` · receptive field ${s.receptiveField.size}×${s.receptiveField.size} px, stride ${s.receptiveField.jump}` : '';
      const range = s.range ? ` · channel mean from ${num(s.range.min)} (transparent) to ${num(s.range.max)}` : '';
      return `<figure class="stage" data-stage="${e(s.name)}"><img alt="${e(`${s.paperName} (${s.name}) heatmap`)}" src="${dataUri(s.image)}"><figcaption><strong>${e(s.paperName)}</strong> · ${e(s.name)} · ${s.shape[0]}×${s.shape[1]}×${s.shape[2]}${s.blocks ? ` · ${s.blocks} blocks` : ''}${e(rf)}<br><span class="muted">mean ${num(s.stats.mean)} · max ${num(s.stats.max, 2)} · zeros ${e(percent(s.stats.zeroFraction))}${e(range)}</span>${s.note ? `<br>${e(s.note)}` : ''}</figcaption></figure>`;
    })
    .join('\n');
  const cams = input.cams
    .map(
      (c) =>
        `<figure class="cam"><img alt="${e(`class activation map for ${c.label}`)}" src="${dataUri(c.image)}"><figcaption><strong>${e(c.label)}</strong> · ${e(percent(c.prob))} · logit ${num(c.logit, 2)}</figcaption></figure>`,
    )
    .join('\n');
  const warning =
    input.model.pretrained === false ? `<p class="warn">This model was imported from a file: its weights are not known to be ImageNet-trained.</p>` : '';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
<meta name="generator" content="ResLens">
<title>${e(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<h1>${e(input.fileName)}</h1>
<p class="muted">${e(input.model.title ?? input.model.name)} (${e(input.model.name)}) · ${e(input.ep.toUpperCase())} · ${num(input.ms, 0)} ms · ${e(input.createdAt.toISOString())}</p>
${warning}
<div class="top">
<img class="photo" alt="the centre crop the network saw" src="${dataUri(input.photo)}">
<div><h2>Top ${input.top.length}</h2><table class="top5"><thead><tr><th>#</th><th>Class</th><th class="num">Probability</th><th class="num">Index</th></tr></thead><tbody>${top}</tbody></table></div>
</div>
<h2>Every stage</h2>
<p class="muted">${e(input.legend)}</p>
<div class="grid stages">
${stages}
</div>
<h2>Class activation maps</h2>
<p class="muted">Where conv5_x's features vote for each top class (weighted by the classifier's weights), normalised per map.</p>
<div class="grid cams">
${cams}
</div>
</body>
</html>
`;
}
