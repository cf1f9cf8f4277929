// The live tail's stream (docs/console.md): the page lists what happened before it loaded and works
// without this script; with it, each new webhook or delivery outcome from /ui/tail/stream (Server-Sent
// Events) is added at the top as it happens, and the Pause button stops and restarts the stream.
// Everything from the stream is put in the page as text (textContent), never as markup.
(function () {
  'use strict';
  var rows = document.getElementById('tail-rows');
  var status = document.getElementById('tail-status');
  var button = document.getElementById('tail-pause');
  if (!rows || !status || !button || typeof window.EventSource !== 'function') return;
  var max = Number(rows.getAttribute('data-max')) || 100;
  var url = rows.getAttribute('data-stream');
  var stream = null;

  function short(text, length) {
    return text.length > length ? text.slice(0, length) + '…' : text;
  }

  function arrow(left, right) {
    return left || right ? (left || '?') + ' → ' + (right || '?') : '';
  }

  function cellsOf(activity) {
    var at = new Date(activity.at).toISOString();
    var common = { at: at, time: at.slice(11, 19) + ' UTC', kind: activity.kind, type: activity.type || '', call: activity.callId || '', outcome: activity.outcome };
    if (activity.kind === 'webhook') {
      common.path = arrow(activity.from, activity.to);
      common.detail = activity.code || activity.source || '';
    } else {
      common.path = activity.route + ' → ' + activity.connector;
      common.detail = activity.latencyMs + ' ms' + (activity.error ? ' · ' + activity.error : '');
    }
    return common;
  }

  function cell(row, text) {
    var td = document.createElement('td');
    td.textContent = text;
    row.appendChild(td);
    return td;
  }

  function add(activity) {
    var c = cellsOf(activity);
    var row = document.createElement('tr');
    var time = document.createElement('time');
    time.setAttribute('datetime', c.at);
    time.textContent = c.time;
    cell(row, '').appendChild(time);
    cell(row, c.kind);
    cell(row, c.type);
    cell(row, short(c.call, 40));
    cell(row, short(c.path, 80));
    var outcome = document.createElement('span');
    outcome.className = 'status status-' + String(c.outcome).replace(/[^a-z]/g, '');
    outcome.textContent = c.outcome;
    cell(row, '').appendChild(outcome);
    cell(row, short(c.detail, 120)).className = 'error';
    var empty = document.getElementById('tail-empty');
    if (empty) empty.remove();
    rows.insertBefore(row, rows.firstChild);
    while (rows.children.length > max) rows.removeChild(rows.lastChild);
  }

  function say(text) {
    status.textContent = text;
  }

  function onActivity(message) {
    try {
      add(JSON.parse(message.data));
    } catch (err) {
      say('An update could not be read; reload the page.');
    }
  }

  function start() {
    stream = new EventSource(url);
    stream.addEventListener('webhook', onActivity);
    stream.addEventListener('delivery', onActivity);
    stream.onopen = function () { say('Live: new activity appears at the top as it happens.'); };
    stream.onerror = function () { say('Connection lost; trying again…'); };
    button.textContent = 'Pause';
  }

  function stop() {
    if (stream) stream.close();
    stream = null;
    say('Paused: nothing new is added until you resume.');
    button.textContent = 'Resume';
  }

  button.hidden = false;
  button.addEventListener('click', function () {
    if (stream) stop();
    else start();
  });
  start();
})();
