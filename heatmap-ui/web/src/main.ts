// Routing between the views by the URL's hash: `#/` explorer, `#/dashboards` list,
// `#/d/<id>` one dashboard.

import './style.css';
import { renderDashboard, renderList } from './dashboard';
import { renderExplorer } from './explorer';

const app = document.getElementById('app')!;
let teardown: () => void = () => {};

async function route(): Promise<void> {
  teardown();
  teardown = () => {};
  const hash = location.hash.replace(/^#/, '') || '/';
  const path = hash.split('?')[0];
  const dash = /^\/d\/([^/]+)$/.exec(path);
  if (dash) {
    teardown = await renderDashboard(app, decodeURIComponent(dash[1]));
  } else if (path === '/dashboards') {
    teardown = await renderList(app);
  } else {
    teardown = renderExplorer(app);
  }
}

window.addEventListener('hashchange', () => void route());
void route();
