//! The JSON request bodies of the NetHSM and appliance faces, as their wire types read them:
//! arbitrary bytes must deserialize or fail, never panic (serde_json bounds its own recursion).
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde::de::DeserializeOwned;
use strongroom_server::appliance::wire as appliance;
use strongroom_server::nethsm::wire as nethsm;

fn try_as<T: DeserializeOwned>(data: &[u8]) {
    let _ = serde_json::from_slice::<T>(data);
}

fuzz_target!(|data: &[u8]| {
    try_as::<serde_json::Value>(data);
    try_as::<nethsm::UserPostData>(data);
    try_as::<nethsm::KeyGenerateRequestData>(data);
    try_as::<nethsm::PrivateKey>(data);
    try_as::<nethsm::RestoreArguments>(data);
    try_as::<appliance::UpdatePasswordSpec>(data);
});
