// The consilium call: three to five people through Janus's video room (an SFU), not a mesh.
//
// A minimal client of Janus's WebSocket JSON protocol (Debian's janus.js needs webrtc-adapter,
// which is not packaged): one session, one publisher handle (our camera and microphone, one
// upstream however many others there are: the satellite link of a post carries one stream up)
// and one subscriber handle with a stream per other publisher (Janus 1.x multistream).
// Credentials (room, pin, a signed Janus token) come from our server's `join` endpoint, only to
// people the call admits. Every 5 s getStats of both peer connections is summed up, shown, and
// posted to our server, which answers with who is in the call and their figures.
// The last figures are on window.farcareConsilium (read by the browser tests).
//
// Reconnects by itself: when Janus's WebSocket drops or a peer connection's ICE fails, the page
// tears the Janus session down and joins again with backoff (1 s, 2 s, 4 s … 30 s): our server's
// `join` again (it keeps the presence and counts the reconnect), a new Janus session, the same
// camera and microphone tracks (getUserMedia is asked once per join by the user).
// Adapts to a weak link like the call of two: below `audio_only_below_kbps` of the publisher's
// availableOutgoingBitrate (with hysteresis), or when the user ticks "audio only", our video
// encoding goes inactive and Janus stops relaying the others' video to us (subscriber
// `configure` with `send: false` for the video streams), so both directions carry audio only.
// Opus is capped at `audio_kbps` always.
//
// Listen only (`listen_only` in the config: a learner of a teaching session): the page never asks
// for the camera or microphone (a feldsher with no camera on 64 kbit/s attends too). It joins the
// room as a publisher that never publishes (Janus counts a participant against the room's
// `publishers` only once they publish, and a joined participant gets the `publishers` events)
// and subscribes to the publishers' streams, audio only when ticked or when the link is weak: for
// a listener, many packets lost (there is no outgoing estimate to go by), kept for a while before
// video is tried again, so the link does not swing every few seconds. "Raise hand" (when the page
// has `hand_url`) posts the wish to speak to our server; the trainer sees it in the list.
(function () {
  "use strict";

  var configElement = document.getElementById("consilium-config");
  if (!configElement) {
    return;
  }
  var config = JSON.parse(configElement.textContent);
  var texts = config.texts;
  var statusLine = document.getElementById("consilium-status");
  var joinButton = document.getElementById("consilium-join");
  var leaveButton = document.getElementById("consilium-leave");
  var audioOnlyBox = document.getElementById("consilium-audio-only");
  var peopleList = document.getElementById("consilium-people");
  var videos = document.getElementById("consilium-videos");
  var localVideo = document.getElementById("consilium-local");
  var csrfInput = document.querySelector("#consilium-csrf input[name=csrfmiddlewaretoken]");
  var handButton = document.getElementById("consilium-hand");
  var listenOnly = Boolean(config.listen_only);

  var KEEPALIVE_MS = 25000;
  var STATS_MS = 5000;
  // A listener's link is weak above this share of packets lost; video is tried again after a while.
  var LISTENER_WEAK_LOSS_PERCENT = 10;
  var LISTENER_AUDIO_HOLD_MS = 120000;

  // What the tests (and a curious engineer in the console) can read.
  var state = {
    joined: false,
    publishing: false,
    // Janus "display" (a user's uuid) of each other publisher now in the room.
    inRoom: [],
    people: [],
    stats: null,
    error: "",
    // "video" or "audio" (ticked, or the link too weak), and whether the link decided it.
    mode: "video",
    weakLink: false,
    reconnects: 0,
    // Listen only: no camera or microphone, subscribing only. `present`: in the Janus room.
    listening: listenOnly,
    present: false,
    // Janus "display" of each other participant in the room who does not publish (a listener).
    attendees: [],
    hand: false
  };
  window.farcareConsilium = state;

  var seat = null;
  var socket = null;
  var sessionId = null;
  var publisher = null; // handle id
  var subscriber = null; // handle id
  var privateId = null;
  var publisherPc = null;
  var subscriberPc = null;
  var localStream = null;
  var pending = {}; // transaction -> {resolve, reject, ack}
  var feeds = {}; // publisher id -> display
  var subscribed = {}; // publisher id -> true
  var midFeed = {}; // subscriber mid -> publisher id
  var subscribing = false;
  var wanted = []; // publisher ids waiting for the subscriber handle to be free
  var timers = [];
  var previous = null;
  var wantIn = false; // the user joined and has not left: a drop means reconnecting
  var generation = 0; // bumps on every teardown: late answers of an old session are ignored
  var retryTimer = null;
  var attempt = 0;
  var midKind = {}; // subscriber mid -> "audio" | "video"
  var relayedVideo = {}; // subscriber video mid -> whether we asked Janus to send it
  var attendees = {}; // participant id -> display, of those in the room who do not publish
  var weakSince = null; // when the link made a listener audio only
  var BACKOFF_MS = [1000, 2000, 4000, 8000, 15000, 30000];

  function say(text) {
    statusLine.textContent = text;
  }

  function format(template, values) {
    return template.replace(/%\((\w+)\)s/g, function (_m, name) {
      var value = values[name];
      return value === null || value === undefined ? "—" : String(value);
    }).replace(/%%/g, "%");
  }

  function transaction() {
    return Math.random().toString(36).slice(2) + Date.now().toString(36);
  }

  // --- our server ----------------------------------------------------------------------------

  function post(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfInput.value },
      body: JSON.stringify(body || {})
    }).then(function (response) {
      return response.json().then(function (data) {
        if (!response.ok) {
          var error = new Error(data.error || String(response.status));
          error.status = response.status;
          throw error;
        }
        return data;
      });
    });
  }

  // --- Janus ---------------------------------------------------------------------------------

  function send(message) {
    var id = transaction();
    message.transaction = id;
    message.token = seat.token;
    if (sessionId !== null && message.janus !== "create") {
      message.session_id = sessionId;
    }
    return new Promise(function (resolve, reject) {
      pending[id] = { resolve: resolve, reject: reject };
      socket.send(JSON.stringify(message));
    });
  }

  // A plugin request; resolves with the plugin's answer ({data, jsep}), sync or async.
  function request(handle, body, jsep) {
    var message = { janus: "message", handle_id: handle, body: body };
    if (jsep) {
      message.jsep = jsep;
    }
    return send(message).then(function (answer) {
      var data = (answer.plugindata && answer.plugindata.data) || {};
      if (data.error_code) {
        throw new Error(data.error || "Janus error " + data.error_code);
      }
      return { data: data, jsep: answer.jsep };
    });
  }

  function received(event) {
    var message = JSON.parse(event.data);
    var waiting = message.transaction && pending[message.transaction];
    if (waiting) {
      if (message.janus === "ack") {
        return; // the answer comes later, as an event with the same transaction
      }
      delete pending[message.transaction];
      if (message.janus === "error") {
        waiting.reject(new Error(message.error ? message.error.reason : "Janus error"));
      } else {
        waiting.resolve(message);
      }
      return;
    }
    if (message.janus === "event" && message.plugindata) {
      pluginEvent(message.sender, message.plugindata.data || {}, message.jsep);
    } else if (message.janus === "hangup" || message.janus === "detached") {
      if (message.sender === publisher) {
        lost();
      }
    }
  }

  function pluginEvent(handle, data, jsep) {
    if (handle === publisher) {
      if (data.publishers) {
        noticePublishers(data.publishers);
      }
      if (data.joining) {
        noticeAttendees([data.joining]);
      }
      var gone = data.unpublished || data.leaving;
      if (data.leaving && data.leaving !== "ok") {
        delete attendees[data.leaving];
      }
      if (gone && gone !== "ok") {
        delete feeds[gone];
        delete subscribed[gone];
        var figure = document.getElementById("consilium-feed-" + gone);
        if (figure) {
          figure.remove();
        }
        showInRoom();
      }
      if (data.videoroom === "destroyed") {
        lost();
      }
    } else if (handle === subscriber && jsep) {
      // Janus renegotiated (a feed went away): answer the new offer.
      answerSubscriber(data, jsep).catch(fail);
    }
  }

  function noticePublishers(list) {
    list.forEach(function (p) {
      if (p.display === seat.display) {
        return;
      }
      feeds[p.id] = p.display;
      if (!subscribed[p.id] && wanted.indexOf(p.id) < 0) {
        wanted.push(p.id);
      }
    });
    showInRoom();
    subscribeWanted();
  }

  function noticeAttendees(list) {
    list.forEach(function (a) {
      if (a.display !== seat.display) {
        attendees[a.id] = a.display;
      }
    });
    showInRoom();
  }

  function showInRoom() {
    state.inRoom = Object.keys(feeds).map(function (id) {
      return feeds[id];
    });
    state.attendees = Object.keys(attendees)
      .filter(function (id) {
        return feeds[id] === undefined;
      })
      .map(function (id) {
        return attendees[id];
      });
    drawPeople();
  }

  function openSocket() {
    return new Promise(function (resolve, reject) {
      var opened = new WebSocket(seat.server, "janus-protocol");
      socket = opened;
      opened.onopen = function () {
        resolve();
      };
      opened.onerror = function () {
        reject(new Error(texts.lost));
      };
      opened.onmessage = received;
      opened.onclose = function () {
        reject(new Error(texts.lost));
        if (socket === opened) {
          lost();
        }
      };
    });
  }

  // ICE failing on either peer connection is a drop too (a link that went away and came back).
  function watchIce(pc) {
    pc.onconnectionstatechange = function () {
      if (pc.connectionState === "failed" && (pc === publisherPc || pc === subscriberPc)) {
        lost();
      }
    };
  }

  function attach() {
    return send({ janus: "attach", plugin: "janus.plugin.videoroom" }).then(function (answer) {
      return answer.data.id;
    });
  }

  function trickle(handle, pc) {
    pc.onicecandidate = function (event) {
      var candidate = event.candidate
        ? {
            candidate: event.candidate.candidate,
            sdpMid: event.candidate.sdpMid,
            sdpMLineIndex: event.candidate.sdpMLineIndex
          }
        : { completed: true };
      send({ janus: "trickle", handle_id: handle, candidate: candidate }).catch(function () {});
    };
  }

  // --- publishing ----------------------------------------------------------------------------

  // The camera and microphone, asked for once when the user joins; reconnects reuse them.
  function openDevices() {
    if (localStream) {
      return Promise.resolve(localStream);
    }
    return navigator.mediaDevices
      .getUserMedia({ audio: true, video: true })
      .catch(function (error) {
        throw new Error(format(texts.no_devices, { error: error.message || error.name }));
      })
      .then(function (stream) {
        localStream = stream;
        localVideo.srcObject = stream;
        return stream;
      });
  }

  function publish() {
    var pc = new RTCPeerConnection({ iceServers: [] });
    publisherPc = pc;
    trickle(publisher, pc);
    watchIce(pc);
    localStream.getTracks().forEach(function (track) {
      pc.addTrack(track, localStream);
    });
    return pc
      .createOffer()
      .then(function (offer) {
        return pc.setLocalDescription(offer).then(function () {
          return request(
            publisher,
            { request: "publish", audio: true, video: true },
            { type: offer.type, sdp: offer.sdp }
          );
        });
      })
      .then(function (answer) {
        state.publishing = true;
        return pc.setRemoteDescription(answer.jsep);
      })
      .then(applyMode);
  }

  // --- subscribing: one handle, a stream per other publisher -----------------------------------

  function subscribeWanted() {
    if (subscribing || !wanted.length || privateId === null) {
      return;
    }
    var ids = wanted.splice(0, wanted.length);
    var streams = ids.map(function (id) {
      subscribed[id] = true;
      return { feed: id };
    });
    subscribing = true;
    var step;
    if (subscriber === null) {
      step = attach().then(function (handle) {
        subscriber = handle;
        return request(subscriber, {
          request: "join",
          ptype: "subscriber",
          room: seat.room,
          pin: seat.pin,
          private_id: privateId,
          streams: streams
        });
      });
    } else {
      step = request(subscriber, { request: "subscribe", streams: streams });
    }
    step
      .then(function (answer) {
        if (answer.jsep) {
          return answerSubscriber(answer.data, answer.jsep);
        }
        return null;
      })
      .then(function () {
        subscribing = false;
        subscribeWanted();
      })
      .catch(function (error) {
        subscribing = false;
        fail(error);
      });
  }

  function answerSubscriber(data, jsep) {
    (data.streams || []).forEach(function (s) {
      if (s.feed_id !== undefined) {
        midFeed[s.mid] = s.feed_id;
        midKind[s.mid] = s.type;
      }
    });
    if (subscriberPc === null) {
      subscriberPc = new RTCPeerConnection({ iceServers: [] });
      trickle(subscriber, subscriberPc);
      watchIce(subscriberPc);
      subscriberPc.ontrack = showTrack;
    }
    return subscriberPc
      .setRemoteDescription(jsep)
      .then(function () {
        return subscriberPc.createAnswer();
      })
      .then(function (answer) {
        return subscriberPc.setLocalDescription(answer).then(function () {
          return request(
            subscriber,
            { request: "start", room: seat.room },
            { type: answer.type, sdp: answer.sdp }
          );
        });
      })
      .then(applyMode);
  }

  // --- the link's mode: video, or audio only both ways ----------------------------------------

  function senderOf(kind) {
    if (!publisherPc) {
      return null;
    }
    var senders = publisherPc.getSenders();
    for (var i = 0; i < senders.length; i += 1) {
      if (senders[i].track && senders[i].track.kind === kind) {
        return senders[i];
      }
    }
    return null;
  }

  function setEncoding(sender, changes) {
    if (!sender) {
      return Promise.resolve();
    }
    var parameters = sender.getParameters();
    if (!parameters.encodings || !parameters.encodings.length) {
      return Promise.resolve();
    }
    var changed = false;
    Object.keys(changes).forEach(function (key) {
      if (parameters.encodings[0][key] !== changes[key]) {
        parameters.encodings[0][key] = changes[key];
        changed = true;
      }
    });
    return changed ? sender.setParameters(parameters) : Promise.resolve();
  }

  // Ask Janus to relay (or not) the others' video to us; only the streams whose wish changed.
  function relayVideo(send) {
    if (subscriber === null) {
      return Promise.resolve();
    }
    var streams = [];
    Object.keys(midKind).forEach(function (mid) {
      if (midKind[mid] === "video" && relayedVideo[mid] !== send) {
        relayedVideo[mid] = send;
        streams.push({ mid: mid, send: send });
      }
    });
    if (!streams.length) {
      return Promise.resolve();
    }
    return request(subscriber, { request: "configure", streams: streams }).then(function () {});
  }

  function applyMode() {
    state.mode = audioOnlyBox.checked || state.weakLink ? "audio" : "video";
    var video = state.mode === "video";
    return Promise.all([
      setEncoding(senderOf("audio"), { maxBitrate: config.audio_kbps * 1000 }),
      setEncoding(senderOf("video"), { active: video }),
      relayVideo(video)
    ]).catch(function (error) {
      state.error = String(error.message || error);
    });
  }

  // A listener sends nothing, so no outgoing estimate: many packets lost says the link is weak.
  function adaptListener(lossPercent) {
    var now = performance.now();
    if (lossPercent !== null && lossPercent >= LISTENER_WEAK_LOSS_PERCENT) {
      state.weakLink = true;
      weakSince = now;
    } else if (state.weakLink && now - weakSince >= LISTENER_AUDIO_HOLD_MS) {
      state.weakLink = false;
      weakSince = null;
    }
    return applyMode();
  }

  function adapt(availableKbps) {
    var threshold = config.audio_only_below_kbps;
    if (availableKbps !== null) {
      // Some hysteresis: back to video only once the link is clearly above the threshold.
      state.weakLink =
        availableKbps < threshold || (state.weakLink && availableKbps < threshold * 1.3);
    }
    return applyMode();
  }

  function showTrack(event) {
    var feed = midFeed[event.transceiver.mid];
    var display = feeds[feed] || "";
    var id = "consilium-feed-" + feed;
    var figure = document.getElementById(id);
    if (!figure) {
      figure = document.createElement("figure");
      figure.id = id;
      figure.setAttribute("data-testid", "consilium-feed");
      figure.setAttribute("data-person", display);
      var video = document.createElement("video");
      video.autoplay = true;
      video.playsInline = true;
      video.srcObject = new MediaStream();
      var caption = document.createElement("figcaption");
      caption.textContent = nameOf(display);
      figure.appendChild(video);
      figure.appendChild(caption);
      videos.appendChild(figure);
    }
    var media = figure.querySelector("video");
    media.srcObject.addTrack(event.track);
    event.track.onended = function () {
      media.srcObject.removeTrack(event.track);
    };
  }

  // --- who is connected ----------------------------------------------------------------------

  function nameOf(display) {
    for (var i = 0; i < state.people.length; i += 1) {
      if (state.people[i].id === display) {
        return state.people[i].name;
      }
    }
    return "";
  }

  function drawPeople() {
    if (!state.people.length) {
      return;
    }
    peopleList.textContent = "";
    state.people.forEach(function (person) {
      var connected = person.me
        ? state.present
        : state.inRoom.indexOf(person.id) >= 0 || state.attendees.indexOf(person.id) >= 0;
      var item = document.createElement("li");
      item.setAttribute("data-person", person.id);
      item.setAttribute("data-connected", connected ? "yes" : "no");
      var name = document.createElement("strong");
      name.textContent = person.name + (person.me ? " (" + texts.you + ")" : "");
      var presence = document.createElement("span");
      presence.setAttribute("data-testid", "presence");
      presence.textContent = " " + person.role + " — " + (connected ? texts.in_room : texts.not_in_room);
      var mode = document.createElement("span");
      mode.setAttribute("data-testid", "link-mode");
      mode.setAttribute("data-mode", person.mode);
      mode.textContent =
        " · " +
        (person.mode === "audio"
          ? person.me && state.weakLink
            ? texts.audio_weak
            : texts.audio
          : texts.video);
      var figures = document.createElement("small");
      figures.setAttribute("data-testid", "link-quality");
      figures.textContent =
        " · " +
        (person.sent_kbps === null && person.received_kbps === null
          ? texts.no_figures
          : format(texts.quality, {
              sent: person.sent_kbps,
              received: person.received_kbps,
              rtt: person.rtt_ms,
              loss: person.loss_percent
            }));
      item.appendChild(name);
      item.appendChild(presence);
      if (person.listening) {
        item.setAttribute("data-listening", "yes");
        var listening = document.createElement("span");
        listening.setAttribute("data-testid", "listening");
        listening.textContent = " · " + texts.listening_person;
        item.appendChild(listening);
      }
      if (person.hand) {
        item.setAttribute("data-hand", "yes");
        var hand = document.createElement("strong");
        hand.setAttribute("data-testid", "hand-raised");
        hand.textContent = " · " + texts.hand_raised;
        item.appendChild(hand);
      }
      item.appendChild(mode);
      item.appendChild(figures);
      peopleList.appendChild(item);
      var caption = document.querySelector(
        '#consilium-videos figure[data-person="' + person.id + '"] figcaption'
      );
      if (caption) {
        caption.textContent = person.name;
      }
    });
  }

  // --- link quality --------------------------------------------------------------------------

  function collect(pc, totals) {
    if (!pc) {
      return Promise.resolve();
    }
    return pc.getStats().then(function (report) {
      report.forEach(function (s) {
        if (s.type === "outbound-rtp") {
          totals.bytesSent += s.bytesSent || 0;
        } else if (s.type === "inbound-rtp") {
          totals.bytesReceived += s.bytesReceived || 0;
          totals.packetsReceived += s.packetsReceived || 0;
          totals.packetsLost += Math.max(0, s.packetsLost || 0);
          if (s.kind === "audio") {
            totals.inboundAudioBytes += s.bytesReceived || 0;
          } else if (s.kind === "video") {
            totals.inboundVideoBytes += s.bytesReceived || 0;
          }
        } else if (s.type === "candidate-pair" && s.nominated && s.state === "succeeded") {
          if (typeof s.currentRoundTripTime === "number") {
            totals.rtts.push(s.currentRoundTripTime * 1000);
          }
          if (pc === publisherPc && typeof s.availableOutgoingBitrate === "number") {
            totals.availableKbps = Math.round(s.availableOutgoingBitrate / 1000);
          }
        }
      });
    });
  }

  function measure() {
    var totals = {
      at: performance.now(),
      bytesSent: 0,
      bytesReceived: 0,
      packetsReceived: 0,
      packetsLost: 0,
      inboundAudioBytes: 0,
      inboundVideoBytes: 0,
      availableKbps: null,
      rtts: []
    };
    var intervalLoss = null;
    return Promise.all([collect(publisherPc, totals), collect(subscriberPc, totals)])
      .then(function () {
        if (previous) {
          var got = totals.packetsReceived - previous.packetsReceived;
          var lostPackets = totals.packetsLost - previous.packetsLost;
          intervalLoss = got + lostPackets > 0 ? (100 * lostPackets) / (got + lostPackets) : null;
        }
        return listenOnly ? adaptListener(intervalLoss) : adapt(totals.availableKbps);
      })
      .then(function () {
        var summary = {
          mode: state.mode,
          sent_kbps: null,
          received_kbps: null,
          rtt_ms: totals.rtts.length ? Math.round(Math.max.apply(null, totals.rtts)) : null,
          loss_percent:
            totals.packetsReceived + totals.packetsLost > 0
              ? Math.round(
                  (10000 * totals.packetsLost) / (totals.packetsReceived + totals.packetsLost)
                ) / 100
              : null
        };
        if (previous) {
          var seconds = (totals.at - previous.at) / 1000;
          summary.sent_kbps = Math.round(
            (8 * Math.max(0, totals.bytesSent - previous.bytesSent)) / 1000 / seconds
          );
          summary.received_kbps = Math.round(
            (8 * Math.max(0, totals.bytesReceived - previous.bytesReceived)) / 1000 / seconds
          );
        }
        previous = totals;
        state.stats = {
          inboundAudioBytes: totals.inboundAudioBytes,
          inboundVideoBytes: totals.inboundVideoBytes,
          bytesSent: totals.bytesSent,
          availableKbps: totals.availableKbps,
          summary: summary
        };
        return summary;
      });
  }

  function report() {
    if (!state.joined) {
      return;
    }
    measure()
      .then(function (summary) {
        return post(config.quality_url, summary);
      })
      .then(function (answer) {
        state.people = answer.people;
        showHand();
        drawPeople();
      })
      .catch(function (error) {
        state.error = String(error.message || error);
        if (error.status === 403) {
          // Our presence was swept (we were silent too long) or the call ended: join again.
          lost();
        }
      });
  }

  // --- joining and leaving -------------------------------------------------------------------

  function fail(error) {
    state.error = String((error && error.message) || error);
    say(format(texts.failed, { error: state.error }));
  }

  // The Janus session went away (socket closed, ICE failed, room gone, presence swept): while the
  // user means to be in, tear down what is left and join again with backoff.
  function lost() {
    if (!wantIn || retryTimer !== null) {
      return;
    }
    teardown();
    say(texts.reconnecting);
    var delay = BACKOFF_MS[Math.min(attempt, BACKOFF_MS.length - 1)];
    attempt += 1;
    retryTimer = setTimeout(function () {
      retryTimer = null;
      if (!wantIn) {
        return;
      }
      state.reconnects += 1;
      connect();
    }, delay);
  }

  // Everything of the Janus session (not the camera and microphone: a reconnect keeps them).
  function teardown() {
    generation += 1;
    state.joined = false;
    state.publishing = false;
    state.present = false;
    timers.forEach(clearInterval);
    timers = [];
    [publisherPc, subscriberPc].forEach(function (pc) {
      if (pc) {
        pc.onconnectionstatechange = null;
        pc.close();
      }
    });
    publisherPc = subscriberPc = null;
    if (socket) {
      socket.onclose = null;
      socket.close();
      socket = null;
    }
    Object.keys(pending).forEach(function (id) {
      pending[id].reject(new Error(texts.lost));
    });
    pending = {};
    sessionId = publisher = subscriber = privateId = null;
    feeds = {};
    subscribed = {};
    midFeed = {};
    midKind = {};
    relayedVideo = {};
    attendees = {};
    state.attendees = [];
    wanted = [];
    subscribing = false;
    previous = null;
    state.inRoom = [];
    Array.prototype.slice
      .call(videos.querySelectorAll("figure[data-testid=consilium-feed]"))
      .forEach(function (figure) {
        figure.remove();
      });
  }

  function stop() {
    wantIn = false;
    if (retryTimer !== null) {
      clearTimeout(retryTimer);
      retryTimer = null;
    }
    teardown();
    if (localStream) {
      localStream.getTracks().forEach(function (track) {
        track.stop();
      });
      localStream = null;
    }
  }

  // One Janus session: our server's seat, the socket, the publisher, the subscriptions.
  // `first`: the user's own click, whose failure is said rather than retried.
  function connect(first) {
    var mine = generation;
    function current() {
      if (mine !== generation) {
        throw new Error(texts.lost);
      }
    }
    return post(config.join_url)
      .then(function (answer) {
        current();
        seat = answer;
        state.people = answer.people;
        return openSocket();
      })
      .then(function () {
        current();
        return send({ janus: "create" });
      })
      .then(function (answer) {
        current();
        sessionId = answer.data.id;
        state.joined = true;
        timers.push(
          setInterval(function () {
            send({ janus: "keepalive" }).catch(function () {});
          }, KEEPALIVE_MS)
        );
        return attach();
      })
      .then(function (handle) {
        current();
        publisher = handle;
        return request(publisher, {
          request: "join",
          ptype: "publisher",
          room: seat.room,
          pin: seat.pin,
          display: seat.display
        });
      })
      .then(function (answer) {
        current();
        privateId = answer.data.private_id;
        // A listener stays an unpublished participant: it takes none of the room's publisher
        // places, and still hears of every publisher (and of the other listeners).
        var published = listenOnly ? Promise.resolve() : publish();
        return published.then(function () {
          noticeAttendees(answer.data.attendees || []);
          noticePublishers(answer.data.publishers || []);
        });
      })
      .then(function () {
        current();
        attempt = 0;
        state.present = true;
        say(listenOnly ? texts.listening : texts.connected);
        joinButton.hidden = true;
        leaveButton.hidden = false;
        if (handButton) {
          handButton.hidden = false;
        }
        showHand();
        drawPeople();
        timers.push(setInterval(report, STATS_MS));
      })
      .catch(function (error) {
        if (mine !== generation) {
          return; // an older session's late failure
        }
        if (first || error.status === 403 || error.status === 400) {
          // Not (or no longer) admitted: no point in trying again.
          stop();
          joinButton.hidden = false;
          leaveButton.hidden = true;
          if (!first && error.status === 403) {
            // Put out of the call (taken off the case): the server's own words say so.
            state.error = String(error.message || error);
            say(state.error);
          } else {
            fail(error);
          }
          return;
        }
        state.error = String(error.message || error);
        lost();
      });
  }

  function join() {
    joinButton.disabled = true;
    say(texts.connecting);
    wantIn = true;
    attempt = 0;
    // A listener is never asked for the camera or microphone.
    (listenOnly ? Promise.resolve() : openDevices())
      .then(function () {
        return connect(true);
      })
      .catch(function (error) {
        stop();
        fail(error);
      })
      .then(function () {
        joinButton.disabled = false;
      });
  }

  function leave() {
    leaveButton.disabled = true;
    if (socket && sessionId !== null) {
      send({ janus: "destroy" }).catch(function () {});
    }
    stop();
    if (handButton) {
      handButton.hidden = true;
    }
    post(config.leave_url)
      .catch(function () {})
      .then(function () {
        say(texts.left);
        leaveButton.hidden = true;
        leaveButton.disabled = false;
        joinButton.hidden = false;
      });
  }

  // Closing the tab leaves the call too: a beacon outlives the page.
  window.addEventListener("pagehide", function () {
    if (wantIn) {
      var form = new FormData();
      form.append("csrfmiddlewaretoken", csrfInput.value);
      navigator.sendBeacon(config.leave_url, form);
      stop();
    }
  });

  // For the browser tests: drop Janus's WebSocket as a dying link would.
  state.dropSocket = function () {
    if (socket) {
      socket.close();
    }
  };

  // --- raise hand (listeners) -----------------------------------------------------------------

  function myself() {
    for (var i = 0; i < state.people.length; i += 1) {
      if (state.people[i].me) {
        return state.people[i];
      }
    }
    return null;
  }

  function showHand() {
    var me = myself();
    state.hand = Boolean(me && me.hand);
    if (handButton) {
      handButton.textContent = state.hand ? texts.lower_hand : texts.raise_hand;
      handButton.setAttribute("aria-pressed", state.hand ? "true" : "false");
    }
  }

  function toggleHand() {
    handButton.disabled = true;
    post(config.hand_url, { raised: !state.hand })
      .then(function (answer) {
        state.people = answer.people;
        showHand();
        drawPeople();
      })
      .catch(fail)
      .then(function () {
        handButton.disabled = false;
      });
  }

  if (handButton && config.hand_url) {
    handButton.addEventListener("click", toggleHand);
  }

  audioOnlyBox.addEventListener("change", function () {
    if (state.publishing || state.present) {
      applyMode().then(drawPeople);
    }
  });
  joinButton.addEventListener("click", join);
  leaveButton.addEventListener("click", leave);
})();
