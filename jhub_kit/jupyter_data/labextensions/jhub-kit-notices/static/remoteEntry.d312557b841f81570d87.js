/*
 * jhub-kit-notices: what the student's hub page says (the idle culler's warning
 * before it stops this server, a teacher's extra idle time or opening of it),
 * as JupyterLab notifications in the student's own server.
 *
 * Written by hand, no build: a JupyterLab 4 federated extension is a script that
 * sets window._JUPYTERLAB[<package name>] to a module-federation container,
 * {init(shareScope), get(module)}, where get("./extension") resolves to a
 * factory of the module whose default export is the plugin (JupyterLab's
 * staging/bootstrap.js and staging/index.js). The plugin imports nothing: it
 * uses the commands of @jupyterlab/apputils-extension:notification
 * (apputils:notify, apputils:update-notification, apputils:dismiss-notification).
 *
 * It asks the class dashboard's service, beside the hub (GET
 * <base>services/class-dashboard/api/notices?server=<server name>, with the
 * token JupyterLab's page holds, same origin) at the start and then as often as
 * it says, never the server (a poll of the server would count as its activity).
 * A warning stays on screen while the hub gives it; an information is shown
 * once; why the server stopped, once, if it stopped while the page was open.
 * Only the server's owner is told: a teacher looking at a student's server is not.
 * tests/unit/test_lab_notices.py loads it in node as JupyterLab's loader does.
 */
(function () {
  'use strict';

  var NAME = 'jhub-kit-notices';
  var SERVICE = 'services/class-dashboard/'; // jhub_kit.views.dashboard.SERVICE_NAME
  var DEFAULT_POLL = 60; // s, when the hub does not say
  var INFO_CLOSE = 15000; // ms an information stays on screen
  var COMMANDS = {
    notify: 'apputils:notify',
    update: 'apputils:update-notification',
    dismiss: 'apputils:dismiss-notification'
  };

  /**
   * Where to ask and with what: the class dashboard's service, beside the hub
   * (JupyterHub's base URL is hubPrefix without its "hub/"), with the token of
   * the page. The owner of the server only.
   */
  function target(config) {
    var prefix = config.hubPrefix || '';
    var owner = config.hubServerUser || config.hubUser || '';
    if (!prefix || !config.token || !config.hubUser || config.hubUser !== owner) {
      return null;
    }
    // another origin (c.JupyterHub.subdomain_host): the service is not this page's
    if (config.hubHost && config.hubHost !== config.origin) {
      return null;
    }
    var base = prefix.replace(/hub\/?$/, '');
    var server = encodeURIComponent(config.hubServerName || '');
    return {
      url: base + SERVICE + 'api/notices?server=' + server,
      headers: { Authorization: 'token ' + config.token }
    };
  }

  /**
   * Keeps the notifications in line with the hub's answers. ``commands``: the
   * application's command registry (execute, hasCommand).
   */
  function notifier(commands) {
    var shown = {}; // key -> {id, text}: the warnings on screen
    var told = {}; // key, text and time -> true: each information once a page
    var since = null; // the hub's time at its first answer (ISO 8601, UTC)

    function run(command, args) {
      return Promise.resolve(commands.execute(command, args));
    }

    function warn(notice) {
      var now = shown[notice.key];
      if (now && now.text === notice.text) {
        return Promise.resolve();
      }
      if (now) {
        // the update command takes autoClose beside the message, not in options
        var changed = { id: now.id, message: notice.text, type: 'warning', autoClose: false };
        return run(COMMANDS.update, changed).then(function (ok) {
          if (ok) {
            now.text = notice.text;
            return;
          }
          delete shown[notice.key]; // dismissed by the student: a new time is news
          return warn(notice);
        });
      }
      shown[notice.key] = { id: null, text: notice.text };
      var args = { message: notice.text, type: 'warning', options: { autoClose: false } };
      return run(COMMANDS.notify, args).then(function (id) {
        shown[notice.key].id = id;
      });
    }

    function inform(notice, type, autoClose) {
      var seen = notice.key + '\n' + notice.text + '\n' + (notice.at || '');
      if (told[seen]) {
        return Promise.resolve();
      }
      told[seen] = true;
      return run(COMMANDS.notify, {
        message: notice.text,
        type: type,
        options: { autoClose: autoClose }
      });
    }

    /**
     * Show ``notices`` (the hub's answer at the hub's time ``now``); dismiss the
     * warnings no longer in it. A stop is told if it came after the first answer
     * (the hub's clock on both sides): an older one is not this page's server's.
     */
    function apply(notices, now) {
      if (since === null && now) {
        since = now;
      }
      if (!commands.hasCommand(COMMANDS.notify)) {
        return Promise.resolve();
      }
      var keep = {};
      var work = [];
      (notices || []).forEach(function (notice) {
        if (!notice || typeof notice.text !== 'string' || !notice.key) {
          return;
        }
        if (notice.kind === 'warning') {
          keep[notice.key] = true;
          work.push(warn(notice));
        } else if (notice.kind === 'stopped') {
          if (since !== null && notice.at && notice.at > since) {
            work.push(inform(notice, 'error', false));
          }
        } else {
          work.push(inform(notice, 'info', INFO_CLOSE));
        }
      });
      Object.keys(shown).forEach(function (key) {
        if (!keep[key]) {
          var id = shown[key].id;
          delete shown[key];
          if (id) {
            work.push(run(COMMANDS.dismiss, { id: id }));
          }
        }
      });
      return Promise.all(work);
    }

    return { apply: apply };
  }

  /**
   * Ask now and then (``fetch``, ``setTimeout``: the window's). Stops for good on
   * 401/403/404 (a token the hub no longer knows, no dashboard, not the bundle's
   * hub); tries again later on anything else.
   */
  function poll(where, show, fetch, setTimeout, log) {
    function once() {
      return fetch(where.url, { headers: where.headers, credentials: 'omit', cache: 'no-store' })
        .then(function (response) {
          if ([401, 403, 404].indexOf(response.status) >= 0) {
            log('jhub-kit-notices: the hub answers ' + response.status + ', not asking again');
            return null;
          }
          if (!response.ok) {
            throw new Error('the hub answers ' + response.status);
          }
          return response.json().then(function (body) {
            return show(body.notices || [], body.now).then(function () {
              return body.poll > 0 ? body.poll : DEFAULT_POLL;
            });
          });
        })
        .catch(function (e) {
          log('jhub-kit-notices: ' + e);
          return DEFAULT_POLL;
        })
        .then(function (next) {
          if (next) {
            setTimeout(once, next * 1000);
          }
        });
    }
    return { once: once };
  }

  function pageConfig(document) {
    var el = document.getElementById('jupyter-config-data');
    try {
      return el ? JSON.parse(el.textContent || '{}') : {};
    } catch (e) {
      return {};
    }
  }

  var plugin = {
    id: NAME + ':plugin',
    description: "The hub's notices for this server's student as notifications",
    autoStart: true,
    activate: function (app) {
      var config = pageConfig(window.document);
      config.origin = window.location.origin;
      var where = target(config);
      if (!where) {
        return;
      }
      var show = notifier(app.commands).apply;
      var log = function (text) {
        window.console.debug(text);
      };
      var asking = poll(where, show, window.fetch.bind(window), window.setTimeout.bind(window), log);
      // after the restore: the notification plugin's commands are there
      app.restored.then(function () {
        return asking.once();
      });
    }
  };

  var container = {
    // shares no module and uses none of the page's
    init: function () {
      return Promise.resolve();
    },
    get: function (module) {
      if (module !== './extension') {
        return Promise.reject(new Error('Module "' + module + '" does not exist in container.'));
      }
      return Promise.resolve(function () {
        return { __esModule: true, default: plugin };
      });
    }
  };

  window._JUPYTERLAB = window._JUPYTERLAB || {};
  window._JUPYTERLAB[NAME] = container;
})();
