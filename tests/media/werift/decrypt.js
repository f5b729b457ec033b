// werift-rtp (an SRTP implementation independent of libsrtp2) decrypts mcxsec's group media.
// Input: the JSON of werift_gen. For each sender: an SrtpSession with AEAD_AES_128_GCM (profile 7,
// RFC 7714) keyed with the master key and salt mcxsec derived; each packet's MKI (the last octets,
// after the tag: RFC 7714 §8, RFC 3711 §3.1) is checked and removed (werift has no MKI support),
// then werift decrypts and the RTP packet must equal what mcxsec protected. A packet with one bit
// flipped must be refused (werift authenticates). Exit 0 only if all of that holds.
"use strict";
const fs = require("fs");
const { SrtpSession, ProtectionProfileAeadAes128Gcm } = require("werift-rtp");

const input = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
let decrypted = 0;
const fail = (msg) => {
  console.error("werift: " + msg);
  process.exit(1);
};
const seen = new Set();
for (const s of input.senders) {
  const key = Buffer.from(s.key, "hex");
  const salt = Buffer.from(s.salt, "hex");
  const mki = Buffer.from(s.mki, "hex");
  const session = new SrtpSession({
    keys: { localMasterKey: key, localMasterSalt: salt, remoteMasterKey: key, remoteMasterSalt: salt },
    profile: ProtectionProfileAeadAes128Gcm,
  });
  for (const p of s.packets) {
    const srtp = Buffer.from(p.srtp, "hex");
    const want = Buffer.from(p.rtp, "hex");
    if (srtp.length !== want.length + 16 + mki.length) fail(`${s.uri}: packet of ${srtp.length} octets`);
    if (!srtp.subarray(srtp.length - mki.length).equals(mki)) fail(`${s.uri}: MKI is not ${s.mki}`);
    const body = srtp.subarray(0, srtp.length - mki.length);
    // the same SSRC and sequence numbers for both senders, never the same ciphertext
    const ct = body.subarray(12).toString("hex");
    if (seen.has(ct)) fail(`${s.uri}: ciphertext repeated across senders`);
    seen.add(ct);
    let got;
    try {
      got = session.decrypt(Buffer.from(body));
    } catch (e) {
      fail(`${s.uri}: seq ${want.readUInt16BE(2)}: ${e.message}`);
    }
    if (!Buffer.from(got).subarray(0, want.length).equals(want) || got.length !== want.length)
      fail(`${s.uri}: seq ${want.readUInt16BE(2)}: plaintext differs`);
    decrypted++;
  }
  // a forgery: werift must refuse it (a fresh session, the first packet with a payload bit flipped)
  const forged = Buffer.from(s.packets[0].srtp, "hex").subarray(0, -mki.length);
  forged[20] ^= 1;
  const fresh = new SrtpSession({
    keys: { localMasterKey: key, localMasterSalt: salt, remoteMasterKey: key, remoteMasterSalt: salt },
    profile: ProtectionProfileAeadAes128Gcm,
  });
  let refused = false;
  try {
    fresh.decrypt(Buffer.from(forged));
  } catch (e) {
    refused = true;
  }
  if (!refused) fail(`${s.uri}: a forged packet was accepted`);
}
console.log(`werift: ${decrypted} packets from ${input.senders.length} senders decrypted, forgeries refused`);
