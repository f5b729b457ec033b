#!/usr/bin/env python3
"""Drive the IdMS login page in headless Chromium through chromedriver, over the W3C WebDriver
protocol (https://www.w3.org/TR/webdriver2/) with the Python standard library only.

usage: browser_login.py --chromedriver BIN --chromium BIN --authorize-url URL
           --redirect-port PORT --user U --password-file F --wrong-password W
           --screenshot FILE.png --profile DIR

Steps:
  1. serve the redirect target (a tiny HTTP page) on 127.0.0.1:PORT, start chromedriver on a
     free loopback port and open a session (headless, fresh profile, acceptInsecureCerts: the
     IdMS certificate is self-signed);
  2. open the authorization URL, screenshot the login page, record the password input's type;
  3. type the user and a wrong password, submit: record the URL and the alert text shown, and
     screenshot that page too (FILE-error.png);
  4. type the right password, submit, wait until the browser is on the redirect target;
  5. print one JSON object: login_title, password_type, wrong_url, wrong_alert, final_url,
     landed (the redirect target's page was served to the browser), callback_path.
Any WebDriver failure or timeout exits non-zero with the reason on stderr.
"""
import argparse
import base64
import http.server
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

callback_paths = []


class Callback(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/favicon.ico":
            self.send_error(404)
            return
        callback_paths.append(self.path)
        body = b"<!doctype html><title>mcx callback</title><h1 id='done'>Signed in</h1>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class WebDriver:
    def __init__(self, base):
        self.base = base
        self.sid = None

    def call(self, method, path, body=None, timeout=30):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return json.load(r)["value"]
        except urllib.error.HTTPError as e:
            detail = e.read().decode(errors="replace")
            raise RuntimeError("WebDriver %s %s: HTTP %d %s" % (method, path, e.code, detail[:400]))

    def s(self, method, path, body=None):
        return self.call(method, "/session/%s%s" % (self.sid, path), body)

    def find(self, css):
        v = self.s("POST", "/element", {"using": "css selector", "value": css})
        return next(iter(v.values()))  # the element reference, whatever its key

    def attr(self, el, name):
        return self.s("GET", "/element/%s/property/%s" % (el, name))

    def type(self, el, text):
        self.s("POST", "/element/%s/clear" % el, {})
        self.s("POST", "/element/%s/value" % el, {"text": text})

    def click(self, el):
        self.s("POST", "/element/%s/click" % el, {})

    def url(self):
        return self.s("GET", "/url")

    def wait(self, cond, what, timeout=10):
        end = time.time() + timeout
        while time.time() < end:
            try:
                v = cond()
                if v:
                    return v
            except (RuntimeError, OSError):  # not there yet / driver still starting
                pass
            time.sleep(0.1)
        raise RuntimeError("timed out waiting for " + what + " (at " + self.url() + ")")


def main():
    ap = argparse.ArgumentParser()
    for a in ("chromedriver", "chromium", "authorize-url", "user", "password-file",
              "wrong-password", "screenshot", "profile"):
        ap.add_argument("--" + a, required=True)
    ap.add_argument("--redirect-port", type=int, required=True)
    args = ap.parse_args()
    password = open(args.password_file).read().rstrip("\n")

    httpd = http.server.HTTPServer(("127.0.0.1", args.redirect_port), Callback)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()

    port = free_port()
    log = open(os.path.join(args.profile + ".chromedriver.log"), "w")
    drv = subprocess.Popen([args.chromedriver, "--port=%d" % port, "--allowed-ips=127.0.0.1"],
                           stdout=log, stderr=subprocess.STDOUT)
    wd = WebDriver("http://127.0.0.1:%d" % port)
    out = {}
    try:
        wd.wait(lambda: wd.call("GET", "/status", timeout=2).get("ready"), "chromedriver")
        caps = {"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "acceptInsecureCerts": True,
            "pageLoadStrategy": "normal",
            "goog:loggingPrefs": {"browser": "ALL"},
            "goog:chromeOptions": {
                "binary": args.chromium,
                "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                         "--no-first-run", "--disable-background-networking",
                         "--disable-component-update", "--disable-sync",
                         "--disable-dev-shm-usage", "--window-size=1000,800",
                         "--user-data-dir=" + args.profile],
            }}}}
        sess = wd.call("POST", "/session", caps, timeout=60)
        wd.sid = sess["sessionId"]

        # 2. the login page as a user sees it
        wd.s("POST", "/url", {"url": args.authorize_url})
        out["login_title"] = wd.s("GET", "/title")
        user = wd.find("input[name=username]")
        pw = wd.find("input[name=password]")
        out["password_type"] = wd.attr(pw, "type")
        png = wd.s("GET", "/screenshot")
        with open(args.screenshot, "wb") as f:
            f.write(base64.b64decode(png))

        # 3. a wrong password: the same page again with the uniform error, no redirect
        wd.type(user, args.user)
        wd.type(pw, args.wrong_password)
        wd.click(wd.find("form [type=submit]"))
        alert = wd.wait(lambda: wd.find("[role=alert]"), "the error message")
        out["wrong_alert"] = wd.s("GET", "/element/%s/text" % alert)
        out["wrong_url"] = wd.url()
        with open(args.screenshot.replace(".png", "-error.png"), "wb") as f:
            f.write(base64.b64decode(wd.s("GET", "/screenshot")))

        # 4. the right password: the browser follows the 302 to the redirect target
        user = wd.find("input[name=username]")
        pw = wd.find("input[name=password]")
        wd.type(user, args.user)
        wd.type(pw, password)
        wd.click(wd.find("form [type=submit]"))
        target = "http://127.0.0.1:%d/" % args.redirect_port
        wd.wait(lambda: wd.url().startswith(target), "the redirect to " + target)
        out["final_url"] = wd.url()
        out["landed"] = wd.s("GET", "/element/%s/text" % wd.find("#done"))
        out["callback_path"] = callback_paths[-1] if callback_paths else ""
    except Exception as e:  # report what the browser saw, then clean up
        print("browser_login: %s" % e, file=sys.stderr)
        if wd.sid:
            try:
                for entry in wd.s("POST", "/se/log", {"type": "browser"}):
                    print("browser console: %s" % entry.get("message"), file=sys.stderr)
                print("page: %s" % wd.s("GET", "/source")[:1500], file=sys.stderr)
            except Exception:
                pass
        out = None
    finally:
        if wd.sid:
            try:
                wd.call("DELETE", "/session/" + wd.sid)
            except Exception:
                pass
        drv.terminate()
        drv.wait(10)
        httpd.shutdown()
    if out is None:
        sys.exit(1)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
