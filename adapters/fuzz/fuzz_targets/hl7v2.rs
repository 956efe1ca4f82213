//! HL7 v2 messages: parse any text and read every field, repetition and component.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(message) = gemj_hl7v2::Message::parse(&text) {
        for segment in message.segments() {
            for field in segment.fields() {
                for repetition in field.repetitions() {
                    for component in repetition.components() {
                        let _ = component.value();
                    }
                }
            }
        }
    }
});
