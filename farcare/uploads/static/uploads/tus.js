/* A small tus 1.0.0 client for the pages (the server: farcare/uploads/views.py), shared by any
   page that sends a file over a weak link (today the call page's "Send a photo").
   - Small chunks (64 KiB by default): under uvicorn a body cut off by a drop is lost whole,
     so a drop costs at most one chunk.
   - Survives a drop: on a network error or a 5xx it waits (backoff up to 10 s), asks the
     server how much arrived (HEAD) and sends the rest from there. The upload's address is kept
     in sessionStorage under the file's fingerprint, so a page reloaded after a drop resumes
     the same upload instead of starting again (the user chooses the same file).
   - A refusal (4xx other than 409/423) ends the upload with the server's own words (already
     in the user's language).
   The page's session authenticates the requests (farcare/uploads/auth.py).

     window.farcareTus.upload(file, {purpose: "consult-attachment", ...}, {
       endpoint: "/uploads/", onProgress: function (sent, total) {}
     }).then(function (resultUuid) {}, function (error) { error.message });
*/
(function () {
  "use strict";
  var VERSION = "1.0.0";
  var CHUNK = 64 * 1024;
  var MAX_BACKOFF = 10000;

  function encodeMetadata(metadata) {
    return Object.keys(metadata)
      .map(function (key) {
        var bytes = new TextEncoder().encode(String(metadata[key]));
        var binary = "";
        bytes.forEach(function (byte) {
          binary += String.fromCharCode(byte);
        });
        return key + " " + btoa(binary);
      })
      .join(",");
  }

  function fingerprint(file, metadata) {
    return ["farcare-tus", file.name, file.size, file.lastModified, encodeMetadata(metadata)].join(
      "|"
    );
  }

  function remembered(key) {
    try {
      return window.sessionStorage.getItem(key);
    } catch (error) {
      return null;
    }
  }

  function remember(key, value) {
    try {
      if (value) window.sessionStorage.setItem(key, value);
      else window.sessionStorage.removeItem(key);
    } catch (error) {
      /* storage may be off: the upload then restarts from zero after a reload */
    }
  }

  function Refused(message) {
    var error = new Error(message);
    error.refused = true;
    return error;
  }

  function wait(ms) {
    return new Promise(function (resolve) {
      window.setTimeout(resolve, ms);
    });
  }

  async function request(method, url, headers, body) {
    headers = Object.assign({ "Tus-Resumable": VERSION }, headers || {});
    var response = await fetch(url, {
      method: method,
      headers: headers,
      body: body,
      credentials: "same-origin",
      cache: "no-store"
    });
    if (response.status >= 400 && response.status < 500) {
      if (response.status === 409 || response.status === 423) return response;
      var text = await response.text();
      throw Refused(text || String(response.status));
    }
    if (response.status >= 500) throw new Error("server " + response.status);
    return response;
  }

  async function upload(file, metadata, options) {
    options = options || {};
    var endpoint = options.endpoint || "/uploads/";
    var chunk = options.chunkSize || CHUNK;
    var onProgress = options.onProgress || function () {};
    var key = fingerprint(file, metadata);
    var location = remembered(key);
    var offset = null;
    var backoff = 500;
    while (true) {
      try {
        if (!location) {
          var created = await request("POST", endpoint, {
            "Upload-Length": String(file.size),
            "Upload-Metadata": encodeMetadata(metadata)
          });
          location = created.headers.get("Location");
          remember(key, location);
          offset = 0;
        }
        if (offset === null) {
          var head;
          try {
            head = await request("HEAD", location);
          } catch (error) {
            if (!error.refused) throw error;
            // Gone (expired or failed) or never ours: start again from zero.
            remember(key, null);
            location = null;
            continue;
          }
          offset = Number(head.headers.get("Upload-Offset"));
          var done = head.headers.get("FarCare-Upload-Result");
          if (done) {
            remember(key, null);
            onProgress(file.size, file.size);
            return done;
          }
        }
        onProgress(offset, file.size);
        var patched = await request(
          "PATCH",
          location,
          {
            "Content-Type": "application/offset+octet-stream",
            "Upload-Offset": String(offset)
          },
          file.slice(offset, offset + chunk)
        );
        if (patched.status === 409 || patched.status === 423) {
          offset = null; // the server has another count: ask it
          continue;
        }
        offset = Number(patched.headers.get("Upload-Offset"));
        backoff = 500;
        onProgress(offset, file.size);
        var result = patched.headers.get("FarCare-Upload-Result");
        if (result) {
          remember(key, null);
          return result;
        }
      } catch (error) {
        if (error.refused) {
          remember(key, null);
          throw error;
        }
        // The link dropped (or the server is restarting): wait, then ask where we are.
        offset = null;
        await wait(backoff);
        backoff = Math.min(backoff * 2, MAX_BACKOFF);
      }
    }
  }

  window.farcareTus = { upload: upload };
})();
