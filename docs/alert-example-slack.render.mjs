// Renders docs/alert-example-slack.json (or the payload named as the first
// argument, such as docs/proposal-example-slack.json; each is the real Block Kit
// payload, kept equal to the notifier's output by test/notify-notifier.test.ts)
// as an HTML approximation of Slack's look, then screenshots it with headless Chromium:
//   node docs/alert-example-slack.render.mjs && chromium --headless --no-sandbox --disable-gpu \
//     --hide-scrollbars --window-size=880,885 --screenshot=docs/alert-example-slack.png /tmp/alert-example-slack.html
//   node docs/alert-example-slack.render.mjs proposal-example-slack.json && chromium --headless --no-sandbox --disable-gpu \
//     --hide-scrollbars --window-size=880,1185 --screenshot=docs/proposal-example-slack.png /tmp/proposal-example-slack.html
// Only header, section (text and fields), actions (buttons), divider and context blocks are drawn: the ones the notifier sends.
import { readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const here = import.meta.dirname;
const input = process.argv[2] ?? 'alert-example-slack.json';
const message = JSON.parse(readFileSync(join(here, input), 'utf8'));

const EMOJI = { ':red_circle:': '🔴', ':rotating_light:': '🚨', ':large_orange_circle:': '🟠', ':large_blue_circle:': '🔵', ':link:': '🔗' };

const html = (text) => text.replace(/&(?!amp;|lt;|gt;)/g, '&amp;');
const emoji = (text) => text.replace(/:[a-z_]+:/g, (code) => EMOJI[code] ?? code);

/** Slack mrkdwn (already &-escaped by the notifier) to HTML: code fences, links, bold, italics, line breaks. */
function mrkdwn(text) {
  const parts = text.split('```');
  return parts
    .map((part, index) => {
      if (index % 2 === 1) return `<pre>${part.replace(/^\n/, '').replace(/\n$/, '')}</pre>`;
      return emoji(html(part))
        .replace(/<(https?:[^|>]+)\|([^>]+)>/g, '<a href="$1">$2</a>')
        .replace(/(^|[\s(])\*([^*\n]+)\*/g, '$1<b>$2</b>')
        .replace(/(^|[\s(])_([^_\n]+)_/g, '$1<i>$2</i>')
        .replace(/\n/g, '<br>');
    })
    .join('');
}

function block(b) {
  switch (b.type) {
    case 'header':
      return `<div class="header">${emoji(b.text.text.replace(/&/g, '&amp;').replace(/</g, '&lt;'))}</div>`;
    case 'section':
      return b.fields
        ? `<div class="fields">${b.fields.map((f) => `<div>${mrkdwn(f.text)}</div>`).join('')}</div>`
        : `<div class="section">${mrkdwn(b.text.text)}</div>`;
    case 'actions':
      return `<div class="actions">${b.elements.map((e) => `<span class="button${e.style === 'primary' ? ' primary' : ''}">${html(e.text.text)}</span>`).join('')}</div>`;
    case 'divider':
      return '<hr>';
    case 'context':
      return `<div class="context">${b.elements.map((e) => mrkdwn(e.text)).join(' ')}</div>`;
    default:
      return '';
  }
}

const page = `<!doctype html><meta charset="utf-8"><style>
body { margin: 0; background: #fff; font: 15px/1.47 Lato, 'Helvetica Neue', Arial, 'Noto Color Emoji', sans-serif; color: #1d1c1d; }
.message { display: flex; gap: 10px; padding: 16px 20px; width: 840px; }
.avatar { width: 36px; height: 36px; border-radius: 6px; background: #232f3e; color: #ff9900; font-weight: 900; display: flex; align-items: center; justify-content: center; flex: none; }
.meta b { font-weight: 900; } .meta .app { font-size: 10px; background: #e8e8e8; color: #616061; border-radius: 2px; padding: 1px 3px; margin: 0 4px; font-weight: 700; }
.meta .time { color: #616061; font-size: 12px; }
.header { font-size: 18px; font-weight: 900; margin: 6px 0 8px; }
.section { margin: 6px 0; } .fields { display: grid; grid-template-columns: 1fr 1fr; gap: 8px 16px; margin: 8px 0; }
pre { font: 12px/1.5 Menlo, 'DejaVu Sans Mono', monospace; background: #f8f8f8; border: 1px solid #e0e0e0; border-radius: 4px; padding: 8px; white-space: pre-wrap; word-break: break-all; margin: 4px 0; }
a { color: #1264a3; text-decoration: none; } hr { border: 0; border-top: 1px solid #e0e0e0; margin: 10px 0; }
.context { font-size: 12px; color: #616061; }
.actions { margin: 10px 0 6px; display: flex; gap: 8px; } .button { border: 1px solid #ccc; border-radius: 4px; padding: 4px 14px; font-weight: 700; font-size: 14px; }
.button.primary { background: #007a5a; border-color: #007a5a; color: #fff; }
</style><div class="message"><div class="avatar">rb</div><div>
<div class="meta"><b>remediation-bot</b><span class="app">APP</span><span class="time">10:15 AM</span></div>
${message.blocks.map(block).join('\n')}
</div></div>`;

const out = join(tmpdir(), input.replace(/\.json$/, '.html'));
writeFileSync(out, page);
console.log(out);
