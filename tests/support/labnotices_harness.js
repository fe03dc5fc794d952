// Loads the kit's JupyterLab extension (its remoteEntry script) in node as
// JupyterLab 4's loader does (staging/bootstrap.js: the script, then
// window._JUPYTERLAB[name].init(shareScope); staging/index.js: get("./extension"),
// the factory, the default export's plugins), activates its plugin on a stand-in
// application and window, and plays a scenario read from stdin (JSON):
//
//   {"script": path, "name": package name, "module": "./extension",
//    "config": page config, "origin": the page's origin,
//    "answers": [{"status": 200, "body": {...}} | {"error": "..."}],
//    "update": true|false (what apputils:update-notification returns),
//    "hasNotify": true|false}
//
// Each answer is the hub's to one fetch; after each, the timer the extension set
// (if any) is fired. Prints what happened (JSON): the fetches, the commands
// executed, the timers' delays, the debug log, the plugins' ids.
'use strict';

const fs = require('fs');
const vm = require('vm');

async function main() {
  const scenario = JSON.parse(fs.readFileSync(0, 'utf8'));
  const out = { fetches: [], commands: [], timers: [], log: [], plugins: [], errors: [] };
  const answers = scenario.answers.slice();
  const timers = [];
  let ids = 0;

  const window = {
    document: {
      getElementById: id =>
        id === 'jupyter-config-data' ? { textContent: JSON.stringify(scenario.config) } : null
    },
    location: { origin: scenario.origin },
    console: {
      debug: text => out.log.push(String(text)),
      error: text => out.errors.push(String(text)),
      warn: text => out.errors.push(String(text))
    },
    fetch: (url, init) => {
      out.fetches.push({
        url,
        headers: init.headers,
        credentials: init.credentials,
        cache: init.cache
      });
      const answer = answers.shift();
      if (!answer) {
        return Promise.reject(new Error('no answer left'));
      }
      if (answer.error) {
        return Promise.reject(new Error(answer.error));
      }
      return Promise.resolve({
        status: answer.status,
        ok: answer.status >= 200 && answer.status < 300,
        json: () => Promise.resolve(answer.body)
      });
    },
    setTimeout: (fn, ms) => {
      out.timers.push(ms);
      timers.push(fn);
      return timers.length;
    }
  };
  window.window = window;
  vm.createContext(window);
  vm.runInContext(fs.readFileSync(scenario.script, 'utf8'), window, { filename: scenario.script });

  // bootstrap.js
  const container = window._JUPYTERLAB[scenario.name];
  await container.init({});
  // index.js: createModule, getPlugins, activePlugins
  const factory = await container.get(scenario.module);
  const instance = factory();
  instance.__scope__ = scenario.name;
  const exported = Object.prototype.hasOwnProperty.call(instance, '__esModule')
    ? instance.default
    : instance;
  const plugins = Array.isArray(exported) ? exported : [exported];
  out.plugins = plugins.map(p => ({ id: p.id, autoStart: p.autoStart }));

  const app = {
    restored: Promise.resolve(),
    commands: {
      hasCommand: id => scenario.hasNotify !== false || id !== 'apputils:notify',
      execute: (id, args) => {
        out.commands.push({ id, args });
        if (id === 'apputils:notify') {
          ids += 1;
          return Promise.resolve(`n${ids}`);
        }
        if (id === 'apputils:update-notification') {
          return Promise.resolve(scenario.update !== false);
        }
        return Promise.resolve(undefined);
      }
    }
  };
  const settle = () => new Promise(resolve => setImmediate(resolve));
  for (const plugin of plugins) {
    plugin.activate(app);
  }
  for (let i = 0; i < 20; i++) await settle();
  // one timer per answer left: fired in order
  while (timers.length && answers.length) {
    timers.shift()();
    for (let i = 0; i < 20; i++) await settle();
  }
  out.pending = timers.length;
  process.stdout.write(JSON.stringify(out));
}

main().catch(e => {
  process.stderr.write(String(e && e.stack ? e.stack : e));
  process.exit(1);
});
