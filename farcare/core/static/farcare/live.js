/* Live worklists: a WebSocket tells the page that something changed, and HTMX reloads the list.
   Where WebSockets are blocked, the list still refreshes every minute and on reload.
   A file of its own, not inline: the Content-Security-Policy allows scripts from 'self' only. */
(function () {
  var el = document.getElementById("worklist");
  if (!el || !window.WebSocket) return;
  var scheme = location.protocol === "https:" ? "wss://" : "ws://";
  function connect(delay) {
    var ws = new WebSocket(scheme + location.host + "/ws/worklist/");
    ws.onmessage = function () { if (window.htmx) htmx.trigger(el, "refresh"); };
    ws.onclose = function () { setTimeout(function () { connect(Math.min(delay * 2, 60000)); }, delay); };
  }
  connect(2000);
})();
