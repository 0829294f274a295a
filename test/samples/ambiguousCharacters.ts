/**
 * The characters VS Code marks as ambiguous in code (`editor.unicodeHighlight.ambiguousCharacters`:
 * its confusables data, the `_common` set and the `_default` set used where no locale applies,
 * e.g. the en dash, the minus sign, ×, Greek α and σ) and the invisible characters it marks
 * (`editor.unicodeHighlight.invisibleCharacters`: no-break and zero-width spaces, direction
 * marks, the byte order mark), as hexadecimal code points and ranges. Taken from VS Code 1.139's
 * ambiguous character data.
 */
const RANGES: readonly string[] = [
  'a0 ad b4 b8 d7 131 17f 184 18d 1a6-1a7 1b7 1bc-1bd 1c0 1c3 21c 222-223 241 251 261 263 269-26a',
  '26f 28b 28f 294 2b9 2bb-2be 2c2-2c4 2c6 2c8 2ca-2cb 2d0 2d7 2db-2dc 2f4 2f8 374 37a 37e-37f 384',
  '391-392 395-397 399-39a 39c-39d 39f 3a1 3a4-3a5 3a7 3b1 3b3 3b9 3bd 3bf 3c1 3c3 3c5 3d2 3dc 3e8',
  '3f1-3f3 3f9-3fa 405-406 408 410 412 415 417 41a 41c-41e 420-423 425 42c 430-431 433 435 43e',
  '440-441 443 445 455-456 458 461 474-475 4ae-4af 4bb 4bd 4c0 4cf 4e0 501 50c 51b-51d 54d 54f 555',
  '55a 55d 561 563 566 570 578 57c-57d 581 584-585 589 5c0 5c3 5d5 5d8-5d9 5df 5e1 5f3 60d 627 647',
  '660-661 665 667 66b 66d 6be 6c1 6d4-6d5 6f0-6f1 6f5 6f7 701-704 7c0 7ca 7f4-7f5 7fa 903 966 97d',
  '9e6 9ea 9ed a66-a67 a6a a83 ae6 b03 b20 b66 b68 be6 c02 c66 c82 ce6 d02 d20 d66 d6d d82 e50 ed0',
  '101d 1040 10e7 10ff 1200 12d0 13a0-13a2 13a5 13a9-13ac 13ae 13b3 13b7 13bb 13bd 13c0 13c2-13c3',
  '13ce-13cf 13d2 13d4-13d5 13d9-13da 13de-13df 13e2 13e6-13e7 13ee 13f3-13f4 1400 142f 1433 1438',
  '144a 144c 146d 146f 1472 148d 14aa 14bf 1541 157c-157d 1587 15af 15b4 15c5 15de 15ea 15f0 15f7',
  '166d-166e 1680 16b2 16b7 16c1 16cc 16d5-16d6 16ec-16ed 1735 1803 1809 1d04 1d0f 1d11 1d1c',
  '1d20-1d22 1d26 1d83 1d8c 1e9d 1eff 1fbd-1fc0 1fef 1ffd-1ffe 2000-2013 2018-201b 2024 2028-202f',
  '2032 2035 2039-203a 2041 2043-2044 204e 2053 205a 205f-2064 2102 210a-210e 2110-2113 2115',
  '2119-211d 2124 2128 212a 212c-2131 2133-2134 2139 213d 2145-2149 2160 2164 2169 216c-2170 2174',
  '2179 217c-217e 2212 2215-2217 2223 2228 222a 2236 223c 22a4 22c1 22c3 22ff 2373-2374 237a 23fd',
  '2571 2573 2768-2769 276e-276f 2772-2775 2795-2796 27cb 27cd 27d9 292b-292c 29f5 29f8-29f9 2a2f',
  '2c85 2c8e 2c92 2c94 2c98 2c9a 2c9e-2c9f 2ca2-2ca6 2ca8 2cac 2cba 2cc6 2cca 2ccc 2cd0 2cd2',
  '2d38-2d39 2d4f 2d51 2d54-2d55 2d5d 2e40 2f02-2f03 3000 3007 3014-3015 3033 30a0 30ce 31d3-31d4',
  '4e36 4e3f a4d0-a4d4 a4d6-a4d7 a4d9-a4da a4dc-a4dd a4df-a4e3 a4e6-a4e7 a4ea-a4ec a4ee a4f0',
  'a4f2-a4f4 a4f8-a4f9 a4fd a4ff a60e a644 a647 a6df a6eb a6ef a731 a75a a76a a76e a778 a789 a78c',
  'a798-a799 a79f a7ab a7b2-a7b4 ab32 ab35 ab3d ab47-ab48 ab4e ab52 ab5a ab75 ab81 ab83 ab93',
  'aba9-abaa abaf fba6-fbad fd3e-fd3f fe30 fe4d-fe4f fe58 fe68 fe8d-fe8e fee9-feec feff ff01-ff5e',
  'ffe8 10282 10286-10287 1028a 10290 10292 10295-10297 1029b 102a0-102a2 102a5 102ab 102b0-102b2',
  '102b4 102cf 102f5 10301-10302 10309 10311 10315 10317 1031a 1031f-10320 10322 10404 10415 1041b',
  '10420 1042c 1043d 10448 104b4 104c2 104ce 104d2 104ea 104f6 10513 10516 10518 1051c-1051d',
  '10525-10527 10a50 114d0 11706 1170a 1170e-1170f 118a0 118a2-118a4 118a6 118a9 118ac 118ae-118af',
  '118b2 118b5 118b8 118bb-118bc 118c0-118c4 118c6 118c8 118ca 118cc 118d5-118d8 118dc 118e0',
  '118e5-118e6 118e9 118ec 118ef 118f2 16f08 16f0a 16f16 16f28 16f35 16f3a-16f3b 16f3f-16f40',
  '16f42-16f43 16f51-16f52 1ccd6-1ccf9 1d114 1d16d 1d206 1d20d 1d20f 1d212-1d213 1d216 1d22a',
  '1d236-1d237 1d23a-1d23b 1d400-1d454 1d456-1d459 1d45b-1d48d 1d48f-1d49c 1d49e-1d49f 1d4a2',
  '1d4a5-1d4a6 1d4a9-1d4ac 1d4ae-1d4b9 1d4bb 1d4bd-1d4c1 1d4c3 1d4c5-1d4f5 1d4f7-1d505 1d507-1d50a',
  '1d50d-1d514 1d516-1d51c 1d51e-1d529 1d52b-1d539 1d53b-1d53e 1d540-1d544 1d546 1d54a-1d550',
  '1d552-1d55d 1d55f-1d591 1d593-1d5c5 1d5c7-1d5f9 1d5fb-1d62d 1d62f-1d661 1d663-1d695 1d697-1d6a4',
  '1d6a8-1d6a9 1d6ac-1d6ae 1d6b0-1d6b1 1d6b3-1d6b4 1d6b6 1d6b8 1d6bb-1d6bc 1d6be 1d6c2 1d6c4 1d6ca',
  '1d6ce 1d6d0 1d6d2 1d6d4 1d6d6 1d6e0 1d6e2-1d6e3 1d6e6-1d6e8 1d6ea-1d6eb 1d6ed-1d6ee 1d6f0 1d6f2',
  '1d6f5-1d6f6 1d6f8 1d6fc 1d6fe 1d704 1d708 1d70a 1d70c 1d70e 1d710 1d71a 1d71c-1d71d 1d720-1d722',
  '1d724-1d725 1d727-1d728 1d72a 1d72c 1d72f-1d730 1d732 1d736 1d738 1d73e 1d742 1d744 1d746 1d748',
  '1d74a 1d754 1d756-1d757 1d75a-1d75c 1d75e-1d75f 1d761-1d762 1d764 1d766 1d769-1d76a 1d76c 1d770',
  '1d772 1d778 1d77c 1d77e 1d780 1d782 1d784 1d78e 1d790-1d791 1d794-1d796 1d798-1d799 1d79b-1d79c',
  '1d79e 1d7a0 1d7a3-1d7a4 1d7a6 1d7aa 1d7ac 1d7b2 1d7b6 1d7b8 1d7ba 1d7bc 1d7be 1d7c8 1d7ca',
  '1d7ce-1d7ff 1e8c7 1e8cb 1ee00 1ee24 1ee64 1ee80 1ee84 1f74c 1f768 1fbf0-1fbf9',
];

/** The code points of {@link RANGES}. */
export const AMBIGUOUS_CODE_POINTS: ReadonlySet<number> = new Set(
  RANGES.flatMap((line) =>
    line.split(' ').flatMap((item) => {
      const [a, b = a] = item.split('-').map((h) => parseInt(h, 16)) as [number, number?];
      return Array.from({ length: b - a + 1 }, (_, i) => a + i);
    }),
  ),
);
