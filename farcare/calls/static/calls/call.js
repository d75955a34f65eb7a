/* The call of two (calls/call.html): WebRTC audio and video between the requester and the
   consultant, signalling over the call's WebSocket (farcare.calls.consumers).
   - Perfect negotiation: the requesting side is polite (yields when both offer at once), so
     the first offer, an ICE restart and a renegotiation never collide.
   - The call survives a drop: the socket reconnects with backoff, and on reconnecting (or when
     ICE reports the path disconnected or failed) the same RTCPeerConnection restarts ICE. The
     camera and microphone are asked for once; nothing is redialled.
   - The media follows the link: every 2 s getStats gives the bandwidth the sender may use
     (candidate pair availableOutgoingBitrate). Below the configured threshold (judged only
     while video is sent, after it has settled: with audio alone the estimate says nothing
     about the link), or when the user ticks "audio only", video is switched off (encoding
     inactive) and Opus is capped (about 24 kbit/s); above it, video is capped at 80% of the
     measured bandwidth less the audio. A page that fell back for a weak link stays in audio
     until the user unticks "audio only", which tries video again.
   - Every 5 s (and at once when the mode changes) the figures go to the server (kept as the
     call's quality) and to the other side. A side in audio only says so ("audio_only"), and
     the other side then sends no video either: the weak link carries both directions.
   - Audio is cheap on every offer and answer: the local description is rewritten before it is
     set (Opus fmtp usedtx=1, discontinuous transmission, nearly nothing sent in silence; and
     maxaveragebitrate, the configured audio rate). Each side's description tells the other's
     encoder what to send, and both pages run this code, so both directions are cheap. Offers
     and answers are made explicitly (createOffer/createAnswer) for that; an offer overtaken by
     the other side's (perfect negotiation: signalling state no longer stable) is dropped.
   - "Send a photo": the phone's camera (capture="environment") or a file; it goes through
     the house's resumable upload (uploads/tus.js, purpose consult-attachment) as a file of the
     consultation, and only its UUID goes over the socket ("photo"); the other side shows its
     preview through the case page's own, authorised, URL.
   A file of its own: the Content-Security-Policy allows scripts from 'self' only. The config
   comes from a JSON block (not executed). window.farcareCall holds the last figures (read by
   the browser tests), dropSocket(), which closes the socket as a lost link would, and
   descriptions(), the SDP in force. */
(function () {
  "use strict";
  var configBlock = document.getElementById("call-config");
  if (!configBlock) return;
  var config = JSON.parse(configBlock.textContent);
  var texts = config.texts;

  var statusBox = document.getElementById("call-status");
  var localVideo = document.getElementById("local-video");
  var remoteVideo = document.getElementById("remote-video");
  var audioOnlyBox = document.getElementById("audio-only");
  var hangUpButton = document.getElementById("hang-up");
  var localQuality = document.getElementById("local-quality");
  var remoteQuality = document.getElementById("remote-quality");
  var callBox = document.getElementById("call");
  var photoInput = document.getElementById("photo-input");
  var photoProgress = document.getElementById("photo-progress");
  var photoStatus = document.getElementById("photo-status");
  var photoList = document.getElementById("photo-list");

  var state = {
    stats: null,
    peerQuality: null,
    mode: "video",
    weakLink: false,
    getUserMediaCalls: 0,
    socketOpens: 0,
    reconnects: 0,
    iceRestarts: 0,
    connectMs: null,
    connectedAtMs: null,
    reconnectMs: null,
    ended: false,
    peerAudioOnly: false,
    photos: [],
    dropSocket: function () {
      if (socket) socket.close();
    },
    descriptions: function () {
      return {
        local: pc && pc.localDescription ? pc.localDescription.sdp : "",
        remote: pc && pc.remoteDescription ? pc.remoteDescription.sdp : ""
      };
    }
  };
  window.farcareCall = state;

  var pc = null;
  var socket = null;
  var socketPath = config.socket_path;
  var polite = true;
  var peers = 0;
  var makingOffer = false;
  var ignoreOffer = false;
  var answerPending = false;
  var backoff = 500;
  var droppedAt = null;
  var startedAt = performance.now();
  var audioSender = null;
  var videoSender = null;
  var previous = null;
  var lastReport = 0;
  var lastReportedMode = null;
  // How long video is sent before the bandwidth estimate may call the link weak: at the
  // start, and after audio only.
  var VIDEO_START_SETTLE_MS = 6000;
  var VIDEO_RESUME_SETTLE_MS = 30000;
  var videoSince = performance.now();
  var settleMs = VIDEO_START_SETTLE_MS;
  var unannounced = [];

  function say(text, name) {
    statusBox.textContent = text;
    callBox.setAttribute("data-state", name);
  }

  function send(message) {
    if (!socket || socket.readyState !== WebSocket.OPEN) return false;
    socket.send(JSON.stringify(message));
    return true;
  }

  // --- Negotiation ---------------------------------------------------------------------------

  async function negotiate() {
    if (!peers || !socket || socket.readyState !== WebSocket.OPEN) return;
    try {
      makingOffer = true;
      var offer = await pc.createOffer();
      // An offer from the other side came in meanwhile: it wins or is ignored (onSignal).
      if (pc.signalingState !== "stable") return;
      await pc.setLocalDescription({ type: "offer", sdp: cheapAudio(offer.sdp) });
      send({ type: "signal", data: { description: pc.localDescription } });
    } catch (error) {
      console.warn("call: offer failed", error);
    } finally {
      makingOffer = false;
    }
  }

  async function onSignal(data) {
    try {
      if (data.description) {
        var description = data.description;
        var readyForOffer =
          !makingOffer && (pc.signalingState === "stable" || answerPending);
        var collision = description.type === "offer" && !readyForOffer;
        ignoreOffer = !polite && collision;
        if (ignoreOffer) return;
        answerPending = description.type === "answer";
        await pc.setRemoteDescription(description);
        answerPending = false;
        if (description.type === "offer") {
          var answer = await pc.createAnswer();
          await pc.setLocalDescription({ type: "answer", sdp: cheapAudio(answer.sdp) });
          send({ type: "signal", data: { description: pc.localDescription } });
        }
      } else if ("candidate" in data) {
        try {
          await pc.addIceCandidate(data.candidate || undefined);
        } catch (error) {
          if (!ignoreOffer) throw error;
        }
      }
    } catch (error) {
      console.warn("call: signal failed", error);
    }
  }

  function cheapAudio(sdp) {
    // Opus with DTX and an average bitrate cap: the fmtp line of its payload type, kept
    // otherwise as the browser wrote it (or added when it wrote none).
    var rtpmap = sdp.match(/a=rtpmap:(\d+) opus\/48000[^\r\n]*/i);
    if (!rtpmap) return sdp;
    var type = rtpmap[1];
    var wanted = ["usedtx=1", "maxaveragebitrate=" + config.audio_kbps * 1000];
    var fmtp = new RegExp("a=fmtp:" + type + " ([^\\r\\n]*)");
    var found = sdp.match(fmtp);
    if (!found) return sdp.replace(rtpmap[0], rtpmap[0] + "\r\na=fmtp:" + type + " " + wanted.join(";"));
    var kept = found[1].split(";").filter(function (parameter) {
      return parameter && !/^\s*(usedtx|maxaveragebitrate)=/.test(parameter);
    });
    return sdp.replace(found[0], "a=fmtp:" + type + " " + kept.concat(wanted).join(";"));
  }

  function restartIce() {
    if (!pc || state.ended) return;
    state.iceRestarts += 1;
    pc.restartIce();
  }

  function peerArrived() {
    // Connected before (a reconnect): a new ICE round on the same connection. Otherwise offer.
    if (pc.remoteDescription) restartIce();
    else negotiate();
  }

  // --- The socket ----------------------------------------------------------------------------

  function connect() {
    if (state.ended) return;
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + location.host + socketPath);
    socket.onopen = function () {
      backoff = 500;
      state.socketOpens += 1;
      if (droppedAt !== null) {
        state.reconnects += 1;
        state.reconnectMs = Math.round(performance.now() - droppedAt);
        droppedAt = null;
      }
      if (pc.iceConnectionState === "connected" || pc.iceConnectionState === "completed") {
        say(texts.connected, "connected");
      }
      // What could not be said while the socket was down.
      unannounced.splice(0).forEach(announce);
      // The other side hears this side's wishes (audio only or not) again at once.
      lastReportedMode = null;
      measure();
    };
    socket.onmessage = function (event) {
      handle(JSON.parse(event.data));
    };
    socket.onclose = function (event) {
      if (state.ended) return;
      if (event.code === 4403) {
        finish(texts.ended);
        return;
      }
      if (droppedAt === null) droppedAt = performance.now();
      say(texts.reconnecting, "reconnecting");
      if (event.code === 4410) {
        // Both sides dropped at once and the call was closed: join again, keep the media.
        rejoin();
        return;
      }
      window.setTimeout(connect, backoff);
      backoff = Math.min(backoff * 2, 10000);
    };
  }

  async function rejoin() {
    try {
      var response = await fetch(config.join_url, {
        method: "POST",
        headers: { Accept: "application/json", "X-CSRFToken": config.csrf },
        credentials: "same-origin"
      });
      if (!response.ok) throw new Error(String(response.status));
      var body = await response.json();
      socketPath = "/ws/call/" + body.call + "/";
      connect();
    } catch (error) {
      window.setTimeout(rejoin, backoff);
      backoff = Math.min(backoff * 2, 10000);
    }
  }

  function handle(message) {
    if (message.type === "hello") {
      polite = !!message.polite;
      peers = message.peers;
      if (peers) peerArrived();
      else if (!pc.remoteDescription) say(texts.waiting, "waiting");
    } else if (message.type === "peer-joined") {
      peers = 1;
      // The one who came back restarts ICE (hello); here only a first offer, to avoid glare.
      if (!pc.remoteDescription) negotiate();
    } else if (message.type === "peer-left") {
      peers = 0;
    } else if (message.type === "signal") {
      onSignal(message.data);
    } else if (message.type === "quality") {
      state.peerQuality = message;
      remoteQuality.textContent = describe(message, false);
      if (state.peerAudioOnly !== !!message.audio_only) {
        state.peerAudioOnly = !!message.audio_only;
        measure();
      }
    } else if (message.type === "photo") {
      showPhoto(message.attachment, false);
    } else if (message.type === "ended") {
      finish(texts.ended);
    } else if (message.type === "error") {
      console.warn("call: the server refused", message.refused);
    }
  }

  function finish(text) {
    state.ended = true;
    if (pc) pc.close();
    if (localVideo.srcObject) {
      localVideo.srcObject.getTracks().forEach(function (track) {
        track.stop();
      });
    }
    if (socket) socket.close();
    say(text, "ended");
    audioOnlyBox.disabled = true;
    hangUpButton.disabled = true;
  }

  // --- Photos --------------------------------------------------------------------------------

  function attachmentUrl(template, uuid) {
    return template.replace(config.photo_placeholder, uuid);
  }

  function showPhoto(uuid, mine) {
    if (!/^[0-9a-f-]{36}$/.test(uuid || "")) return;
    if (state.photos.some(function (photo) { return photo.uuid === uuid; })) return;
    state.photos.push({ uuid: uuid, mine: mine });
    var item = document.createElement("li");
    item.setAttribute("data-attachment", uuid);
    var caption = document.createElement("p");
    caption.textContent = mine ? texts.photo_from_you : texts.photo_from_other;
    var link = document.createElement("a");
    link.href = attachmentUrl(config.photo_url, uuid);
    link.target = "_blank";
    link.rel = "noopener";
    var image = document.createElement("img");
    image.src = attachmentUrl(config.photo_preview_url, uuid);
    image.alt = caption.textContent;
    image.width = 320;
    image.setAttribute("data-testid", "call-photo");
    image.addEventListener("error", function () {
      // Refused (a consultant abroad, a file awaiting its identity check) or no preview.
      var note = document.createElement("span");
      note.textContent = texts.photo_withheld;
      link.replaceChild(note, image);
    });
    link.appendChild(image);
    item.appendChild(caption);
    item.appendChild(link);
    photoList.insertBefore(item, photoList.firstChild);
  }

  function announce(uuid) {
    if (socket && socket.readyState === WebSocket.OPEN) send({ type: "photo", attachment: uuid });
    else unannounced.push(uuid);
  }

  async function sendPhoto(file) {
    photoProgress.hidden = false;
    photoProgress.value = 0;
    photoInput.disabled = true;
    function progress(sent, total) {
      var percent = total ? Math.floor((100 * sent) / total) : 100;
      photoProgress.value = percent;
      photoStatus.textContent = texts.photo_sending
        .replace("%(percent)s", String(percent))
        .replace("%%", "%");
    }
    try {
      var uuid = await window.farcareTus.upload(
        file,
        {
          purpose: "consult-attachment",
          consultation: config.consultation,
          filename: file.name || "photo.jpg",
          filetype: file.type || ""
        },
        { endpoint: config.upload_url, onProgress: progress }
      );
      photoStatus.textContent = texts.photo_sent;
      showPhoto(uuid, true);
      announce(uuid);
    } catch (error) {
      photoStatus.textContent = texts.photo_failed.replace("%(error)s", error.message);
    } finally {
      photoProgress.hidden = true;
      photoInput.disabled = false;
      photoInput.value = "";
    }
  }

  // --- Adaptation ----------------------------------------------------------------------------

  async function setEncoding(sender, changes) {
    if (!sender) return;
    var parameters = sender.getParameters();
    if (!parameters.encodings || !parameters.encodings.length) return;
    var encoding = parameters.encodings[0];
    var changed = false;
    Object.keys(changes).forEach(function (key) {
      if (encoding[key] !== changes[key]) {
        encoding[key] = changes[key];
        changed = true;
      }
    });
    if (!changed) return;
    try {
      await sender.setParameters(parameters);
    } catch (error) {
      console.warn("call: setParameters failed", error);
    }
  }

  function videoCap(availableKbps) {
    // 80% of what the link carries, less the audio; not below what video needs to be video.
    var cap = Math.floor(availableKbps * 0.8 - config.audio_kbps);
    return Math.max(cap, 60);
  }

  async function adapt(availableKbps) {
    var threshold = config.audio_only_below_kbps;
    var now = performance.now();
    if (availableKbps !== null && state.mode === "video" && now - videoSince >= settleMs) {
      // Judged only while video is sent, and once the estimate has had time to climb. With
      // audio alone the sender is application-limited and the estimate says nothing about
      // the link (it drifts up or down with no video to test it), so a link found weak stays
      // weak until the user unticks "audio only" to try video again. At the start the browser
      // probes from a generous guess (a few seconds suffice); back from audio it climbs from
      // what audio used, a few percent a second.
      state.weakLink = availableKbps < threshold;
    }
    var mode = audioOnlyBox.checked || state.weakLink || state.peerAudioOnly ? "audio" : "video";
    if (mode === "video" && state.mode !== "video") {
      videoSince = now;
      settleMs = VIDEO_RESUME_SETTLE_MS;
    }
    state.mode = mode;
    await setEncoding(audioSender, { maxBitrate: config.audio_kbps * 1000 });
    if (state.mode === "audio") {
      await setEncoding(videoSender, { active: false });
      return;
    }
    var changes = { active: true };
    if (availableKbps !== null) {
      var cap = videoCap(availableKbps);
      var current = videoSender ? (videoSender.getParameters().encodings || [{}])[0].maxBitrate : 0;
      // Only a change of more than a tenth: the estimate wobbles every few seconds.
      if (!current || Math.abs(current - cap * 1000) > current / 10) changes.maxBitrate = cap * 1000;
      changes.scaleResolutionDownBy = cap < 250 ? 2 : 1;
    }
    await setEncoding(videoSender, changes);
  }

  function rate(bytes, before, ms) {
    return before === undefined ? 0 : Math.max(0, ((bytes - before) * 8) / ms);
  }

  async function measure() {
    if (!pc || state.ended) return;
    var report = await pc.getStats();
    var now = performance.now();
    var sent = { audio: 0, video: 0 };
    var received = { audio: 0, video: 0 };
    var lost = 0;
    var packets = 0;
    var pair = null;
    report.forEach(function (entry) {
      if (entry.type === "outbound-rtp" && entry.kind in sent) sent[entry.kind] += entry.bytesSent || 0;
      if (entry.type === "inbound-rtp" && entry.kind in received) {
        received[entry.kind] += entry.bytesReceived || 0;
        lost += Math.max(0, entry.packetsLost || 0);
        packets += entry.packetsReceived || 0;
      }
      if (entry.type === "transport" && entry.selectedCandidatePairId) {
        pair = report.get(entry.selectedCandidatePairId) || null;
      }
    });
    var availableKbps = null;
    var rttMs = null;
    var candidateType = "";
    if (pair) {
      if (pair.availableOutgoingBitrate) availableKbps = Math.round(pair.availableOutgoingBitrate / 1000);
      if (pair.currentRoundTripTime !== undefined) rttMs = Math.round(pair.currentRoundTripTime * 1000);
      var local = report.get(pair.localCandidateId);
      candidateType = local ? local.candidateType : "";
    }
    var ms = previous ? now - previous.at : 0;
    var p = previous || {};
    var figures = {
      at: now,
      mode: state.mode,
      bytesSent: sent,
      bytesReceived: received,
      sentKbps: {
        audio: Math.round(rate(sent.audio, p.bytesSent && p.bytesSent.audio, ms)),
        video: Math.round(rate(sent.video, p.bytesSent && p.bytesSent.video, ms))
      },
      receivedKbps: {
        audio: Math.round(rate(received.audio, p.bytesReceived && p.bytesReceived.audio, ms)),
        video: Math.round(rate(received.video, p.bytesReceived && p.bytesReceived.video, ms))
      },
      availableKbps: availableKbps,
      rttMs: rttMs,
      lossPercent: null,
      candidateType: candidateType,
      lost: lost,
      packets: packets
    };
    if (previous) {
      var newLost = lost - previous.lost;
      var newPackets = packets - previous.packets + newLost;
      figures.lossPercent = newPackets > 0 ? Math.round((10000 * newLost) / newPackets) / 100 : 0;
    }
    previous = figures;
    await adapt(availableKbps);
    figures.mode = state.mode;
    state.stats = figures;
    var quality = {
      type: "quality",
      mode: state.mode,
      sent_kbps: figures.sentKbps.audio + figures.sentKbps.video,
      received_kbps: figures.receivedKbps.audio + figures.receivedKbps.video,
      rtt_ms: rttMs,
      loss_percent: figures.lossPercent,
      // Whether this side wants no video at all (its own choice or its link): the other side
      // then sends none either. Said on its own, not as "mode", which also follows the peer.
      audio_only: audioOnlyBox.checked || state.weakLink
    };
    localQuality.textContent = describe(quality, true);
    callBox.setAttribute("data-mode", state.mode);
    // Counted as reported only once it went out: a report lost with a dropped socket is
    // made again as soon as the socket is back.
    var modeChanged = lastReportedMode !== quality.audio_only;
    if (ms && (now - lastReport >= 5000 || modeChanged)) {
      if (send(quality)) {
        lastReport = now;
        lastReportedMode = quality.audio_only;
      }
    }
  }

  function describe(quality, own) {
    if (quality.sent_kbps === undefined) return texts.no_figures;
    var mode = quality.mode === "audio" ? texts.audio : texts.video;
    if (own && quality.mode === "audio" && state.weakLink) mode = texts.audio_weak;
    else if (own && quality.mode === "audio" && state.peerAudioOnly && !audioOnlyBox.checked) {
      mode = texts.audio_peer;
    }
    function shown(value) {
      return value === null || value === undefined ? "—" : String(value);
    }
    return texts.quality
      .replace("%(mode)s", mode)
      .replace("%(sent)s", shown(quality.sent_kbps))
      .replace("%(received)s", shown(quality.received_kbps))
      .replace("%(rtt)s", shown(quality.rtt_ms))
      .replace("%(loss)s", shown(quality.loss_percent))
      .replace("%%", "%");
  }

  // --- Start ---------------------------------------------------------------------------------

  async function start() {
    var stream;
    say(texts.connecting, "connecting");
    try {
      state.getUserMediaCalls += 1;
      stream = await navigator.mediaDevices.getUserMedia({
        audio: { echoCancellation: true, noiseSuppression: true },
        video: { width: { ideal: 640 }, height: { ideal: 360 }, frameRate: { ideal: 15 } }
      });
    } catch (error) {
      say(texts.no_devices.replace("%(error)s", error.name || String(error)), "no-devices");
      return;
    }
    localVideo.srcObject = stream;
    pc = new RTCPeerConnection({
      iceServers: config.ice_servers,
      iceTransportPolicy: config.ice_transport_policy
    });
    stream.getTracks().forEach(function (track) {
      var sender = pc.addTrack(track, stream);
      if (track.kind === "audio") audioSender = sender;
      else videoSender = sender;
    });
    pc.ontrack = function (event) {
      if (!remoteVideo.srcObject) remoteVideo.srcObject = event.streams[0] || new MediaStream();
      if (!event.streams[0]) remoteVideo.srcObject.addTrack(event.track);
    };
    pc.onicecandidate = function (event) {
      send({ type: "signal", data: { candidate: event.candidate } });
    };
    pc.onnegotiationneeded = negotiate;
    var disconnectedTimer = null;
    pc.oniceconnectionstatechange = function () {
      var ice = pc.iceConnectionState;
      if (ice === "failed") restartIce();
      if (ice === "disconnected" && !disconnectedTimer) {
        // Often a brief blip that heals by itself; restart only if it lasts.
        disconnectedTimer = window.setTimeout(function () {
          disconnectedTimer = null;
          if (pc.iceConnectionState === "disconnected") restartIce();
        }, 3000);
      }
      if (ice === "connected" || ice === "completed") {
        if (state.connectMs === null) {
          state.connectMs = Math.round(performance.now() - startedAt);
          // From the page's navigation (what a person waits): the benchmark's figure.
          state.connectedAtMs = Math.round(performance.now());
        }
        say(texts.connected, "connected");
      }
    };
    audioOnlyBox.addEventListener("change", function () {
      if (!audioOnlyBox.checked) state.weakLink = false;
      measure();
    });
    if (photoInput) {
      photoInput.addEventListener("change", function () {
        if (photoInput.files && photoInput.files[0]) sendPhoto(photoInput.files[0]);
      });
    }
    hangUpButton.addEventListener("click", function () {
      send({ type: "hangup" });
      finish(texts.ended);
    });
    connect();
    window.setInterval(measure, 2000);
  }

  start();
})();
