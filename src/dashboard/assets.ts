/**
 * The dashboard's only assets, served by the dashboard itself (it works offline, loads nothing
 * from elsewhere, and its Content-Security-Policy allows nothing else).
 * @internal
 */
export const STYLESHEET = `
body { font: 14px/1.4 system-ui, sans-serif; margin: 0; color: #1d2330; background: #f6f7f9; }
header { background: #1d2330; color: #fff; padding: 10px 20px; display: flex; gap: 20px; align-items: baseline; }
header a { color: #cfd8ff; text-decoration: none; } header h1 { font-size: 16px; margin: 0; }
main { padding: 16px 20px; } h2 { font-size: 15px; margin: 18px 0 8px; }
table { border-collapse: collapse; background: #fff; width: 100%; margin-bottom: 12px; }
th, td { border-bottom: 1px solid #e3e6eb; padding: 5px 8px; text-align: left; vertical-align: top; }
th { background: #eef0f4; font-weight: 600; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.state { padding: 1px 6px; border-radius: 8px; font-size: 12px; background: #e3e6eb; }
.state-dead { background: #fbd5d5; } .state-retrying { background: #fde8c8; } .state-processed { background: #d5f2dc; }
.warn { color: #a4161a; } form.filters { display: flex; gap: 8px; flex-wrap: wrap; margin-bottom: 10px; }
pre { background: #fff; border: 1px solid #e3e6eb; padding: 8px; overflow: auto; white-space: pre-wrap; }
button { cursor: pointer; } .actions { display: flex; gap: 8px; margin: 8px 0; }
svg { background: #fff; border: 1px solid #e3e6eb; } .legend span { margin-right: 12px; }
.legend .ok { color: #2b8a3e; } .legend .bad { color: #c92a2a; }
`;

export const SCRIPT = `
// Confirmation before every action, and a refresh of the overview without reloading the page.
document.addEventListener('submit', function (event) {
  var button = event.submitter;
  var message = (button && button.dataset.confirm) || event.target.dataset.confirm;
  if (message && !window.confirm(message)) event.preventDefault();
});
(function refresh() {
  var overview = document.getElementById('overview');
  if (!overview) return;
  setInterval(function () {
    fetch(overview.dataset.fragment, { credentials: 'same-origin' })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) { if (html !== null) overview.innerHTML = html; })
      .catch(function () {});
  }, 5000);
})();
`;
