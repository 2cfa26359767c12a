// Keys and small conveniences for the review page; the page works as plain forms without it.
(function () {
  "use strict";
  var main = document.getElementById("review");
  var input = document.getElementById("value");
  var form = document.getElementById("decide");
  if (input) {
    input.focus();
    input.select();  // typing replaces the guess; arrow keys keep it for a small fix
  }

  function submitWith(buttonId) {
    var button = document.getElementById(buttonId);
    if (form && button && !form.dataset.sent) form.requestSubmit(button);
  }

  if (form) {
    form.addEventListener("submit", function (event) {
      if (form.dataset.sent) {
        event.preventDefault();  // one decision per field, even on a double key press
        return;
      }
      form.dataset.sent = "1";
    });
  }

  var pageView = document.getElementById("page-view");
  var pageImage = document.getElementById("page");
  var toggle = document.getElementById("toggle-page");
  function togglePage() {
    if (!pageView) return;
    var show = pageView.hidden;
    pageView.hidden = !show;
    toggle.setAttribute("aria-expanded", String(show));
    if (show && !pageImage.getAttribute("src")) {
      pageImage.setAttribute("src", pageImage.dataset.src);  // loaded only when asked for
    }
    if (show) pageView.scrollIntoView({block: "nearest"});
    if (input) input.focus();
  }
  if (toggle) toggle.addEventListener("click", togglePage);
  if (pageImage) {
    pageImage.addEventListener("error", function () {
      pageImage.hidden = true;
      document.getElementById("page-error").hidden = false;
    });
  }

  document.addEventListener("keydown", function (event) {
    var key = event.key.toLowerCase();
    if (event.ctrlKey && !event.altKey && key === "u") {
      event.preventDefault();
      submitWith("unreadable");
    } else if (key === "escape" && !event.ctrlKey && !event.altKey) {
      event.preventDefault();
      submitWith("skip");
    } else if (key === "f2") {
      event.preventDefault();
      togglePage();
    } else if (event.ctrlKey && !event.altKey && key === "b") {
      var undo = document.getElementById("undo");
      if (undo) {
        event.preventDefault();
        undo.requestSubmit();
      }
    }
  });

  // Keep the lease while the page is open; say so if it was lost (someone else may have the field now).
  if (main && main.dataset.field) {
    var every = Math.max(10, Math.min(60, Number(main.dataset.lease) / 3)) * 1000;
    setInterval(function () {
      var body = new URLSearchParams({field_id: main.dataset.field, csrf: main.dataset.csrf});
      fetch("/heartbeat", {method: "POST", body: body, credentials: "same-origin"})
        .then(function (response) { return response.json(); })
        .then(function (answer) {
          if (answer.lease === "lost") {
            var message = document.getElementById("message");
            message.className = "error";
            message.textContent = "Your hold on this field lapsed; saving may be refused if someone else took it.";
          }
        })
        .catch(function () { /* offline for a moment: the next beat tries again */ });
    }, every);
  }
})();
