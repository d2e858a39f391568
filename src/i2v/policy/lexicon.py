"""The text rules' word lists: detection only, written for i2v, compiled lazily by text.py."""

from __future__ import annotations

# Each list is comma-separated entries, spelled as people type them; text.py folds them the same
# way as prompts. An entry matches as whole words, with its regular plural unless it starts
# with "=". "~" marks a word that is innocent next to an animal ("great tits on a branch").
# Hyphens and spaces are the same thing once folded ("t-shirt" matches "t shirt").

LEXICONS: dict[str, str] = {
    # X: sex acts, pornography and genitals.
    "sexual.explicit": """
        =sex, sex act, =having sex, =have sex, =has sex, sex scene, sexual intercourse,
        intercourse, porn, porno, pornography, pornographic, pornstar, porn star, hentai, =xxx,
        =nsfw, =x rated, adult film, adult video, adult movie, =rule 34, =rule34, =r34, =jav,
        orgasm, orgasmic, orgy, =orgies, threesome, 3some, foursome, gangbang, gang bang, bukkake,
        blowjob, blow job, handjob, hand job, footjob, titjob, cunnilingus, fellatio, oral sex,
        =anal, anal sex, masturbate, =masturbating, masturbation, =masturbates, =jerking off,
        =jerk off, ejaculate, ejaculation, cumshot, cum shot, creampie, =cum, =cumming, =cums,
        penis, =penises, vagina, vulva, genital, =genitals, genitalia, erection, erect penis,
        clitoris, =clit, labia, testicle, scrotum, pubic hair, =dick, =dicks, ~cock, ~pussy,
        =pussies, dildo, vibrator, sex toy, sex doll, strap on, strapon, deepthroat,
        deep throat, =making love, =make love, =makes love, lovemaking, coitus, copulate,
        =copulating, copulation, doggy style, doggystyle, missionary position, reverse cowgirl,
        sex position, ahegao, futanari, =futa, =hardcore porn, =softcore, softcore porn, =smut,
        =sexting, =nudes leaked
    """,
    # X: full nudity.
    "nudity.full": """
        =nude, =nudes, =naked, =nudity, =fully nude, =completely naked, =stark naked,
        =butt naked, =birthday suit, =in the nude, =full frontal, frontal nudity, =no clothes,
        =without clothes, =without clothing, =wearing nothing, =with nothing on, unclothed,
        nudist, naturist, =bottomless, =au naturel, =nakey, =nekkid, =naked body, =nude body,
        =nood, =noods,
        =nekked, =in the buff, =without a stitch, =not a stitch, =wearing only a smile,
        =nothing but a smile
    """,
    # R: partial nudity.
    "nudity.partial": """
        =topless, =bare breasts, =bare breast, =exposed breasts, =exposed breast, =breasts,
        =boobs, =boob, ~booby, =tits, =titties, =titty, nipple, areola, =areolae, =bare butt,
        =bare bottom, =bare ass, =bare buttocks, =buttocks, butt cheek, underboob, sideboob,
        nip slip, wardrobe malfunction, =see through top, =see through shirt,
        =see through dress, =see through blouse, =see through bra, =sheer top, =sheer blouse,
        =wet t shirt, =wet tshirt, skinny dipping, =skinny dip, =implied nudity,
        =covering her breasts, hand bra, =strategically covered, pasties, =bare chested woman,
        =topless woman, =naked from the waist up
    """,
    # R: sexual themes without explicit acts.
    "sexual.suggestive": """
        =sexy, =sexxy, =sexier, =sexiest, =sexual, =sexually, =sexualized, =sexualised,
        =sensual, =sensually, =seductive, =seductively, seduce, =seducing, seduction, =erotic,
        =erotica, =eroticism, =lewd, =lustful, =lust, =horny, =aroused, arousal, =kinky, fetish,
        =bdsm, =bondage, dominatrix, =busty, stripper, strip club, lap dance, lapdance,
        =love scene, foreplay, dirty talk, =onlyfans, =only fans, milf, dilf, camgirl, cam girl,
        =playboy, =boudoir, =fuck, =fucks, =fucking, =fucked, =fuckin, spank, =spanking,
        sex worker, prostitute, prostitution, brothel, =ecchi, panty shot, pantyshot, cameltoe,
        camel toe, crotch shot, =suggestive pose, =sexy pose, =bedroom eyes, =in heat,
        =sex appeal, =thirst trap, =no panties, =no bra, =braless
    """,
    # PG-13 with sexual weight: underwear and lingerie (a minor, a real person or force beside
    # them is refused, unlike swimwear).
    "clothing.underwear": """
        lingerie, =underwear, =panties, =panty, =knickers, thong, g string, gstring, =bra, =bras,
        negligee, garter belt, babydoll, boxer briefs, =in his briefs, =in her briefs, teddy
        lingerie, =lacy underwear, =lace lingerie, =undies, =bodystocking, =fishnet bodysuit
    """,
    # PG-13: revealing clothes and dances; sexualising only beside a minor.
    "clothing.revealing": """
        =cleavage, =revealing, =skimpy, =low cut, =plunging neckline, =twerk, =twerks,
        =twerking, =pole dance, =pole dancing, pole dancer, =sultry, =pin up, =pinup,
        =corset, =micro bikini, =microbikini, =string bikini, =thong bikini, =tight clothes,
        =revealing outfit, =risque, =racy, =provocative, =provocatively, =flirtatious
    """,
    # PG-13, never sexualising by themselves.
    "clothing.swimwear": """
        bikini, swimsuit, =swimwear, bathing suit, swimming costume, =swim trunks,
        =swimming trunks, speedo, sports bra, tankini, monokini, =beachwear
    """,
    "nudity.nonsexual": """
        =breastfeeding, =breast feeding, =breastfeeds, =breastfed, =shirtless, =bare chested,
        =bare chest, =barechested, =bare torso, =topless man, =topless men
    """,
    "romance": """
        =kiss, =kisses, =kissing, =kissed, =making out, =make out, =makes out, french kiss,
        =smooch, =smooching, =snogging, =passionate embrace
    """,
    # PG-13: film and game violence, a little blood.
    "violence.mild": """
        =fight, =fights, =fighting, fistfight, brawl, =brawling, =punch, =punches, =punching,
        =punched, sword fight, swordfight, =gun, =guns, =gunfire, gunshot, shootout, shoot out,
        gunfight, firefight, pistol, rifle, handgun, shotgun, machine gun, sniper, =assault,
        =war, =wars, =warfare, battle, battlefield, =combat, bomb, =bombing, grenade,
        =blood, =bloody, =bleeding, =bleeds, wound, =wounded, =injured, =murder, =murdered,
        murderer, zombie, =horror, =violence, =violent, =crime scene, hostage, =stabbed in the,
        =car crash, =explosion, =explosions, =slasher, =monster attack, =shot at
    """,
    # R: graphic violence and death.
    "violence.graphic": """
        =graphic violence, =brutal, =brutally, =brutality, =stab, =stabs, =stabbing, =stabbed,
        massacre, =slaughter, =slaughtered, =slaughtering, =torture, =tortured, =torturing,
        =shot in the head, =blood splatter, =pool of blood, =covered in blood, =blood soaked,
        =bloodbath, =blood bath, =blood everywhere, =gushing blood, public execution,
        firing squad, lynching, mass shooting, school shooting, =suicide, corpse, =dead body,
        =dead bodies, =death scene, =killed brutally, =bloodied, =bludgeoned, =strangled,
        =strangling, =mauled
    """,
    "gore": """
        =gore, =gory, =gruesome, dismember, =dismembered, dismemberment, decapitate,
        =decapitated, decapitation, behead, =beheaded, =beheading, disembowel,
        =disemboweled, =disembowelled, eviscerate, =eviscerated, =entrails, =intestines,
        =spilled guts, =guts spilling, severed head, severed limb, severed arm, severed leg,
        severed hand, =mutilated, mutilation, =exposed bone, =brain matter, =skinned alive,
        =flayed, =impaled, =body horror, =splatter gore, =torn limbs
    """,
    # Always refused, alone: sexualised minors by name.
    "minor.sexual_term": """
        loli, lolicon, shota, shotacon, toddlercon, jailbait, pedo, pedophile, paedophile,
        =pedophilia, =paedophilia, pedophilic, child porn, child pornography, =kiddie porn,
        =kiddy porn, =csam, =pthc, =ddlg, =ageplay, =age play, =cp porn, =underage sex,
        =child sex, =childporn, =preteen porn, =teen porn, =underage porn
    """,
    # Always refused, alone: non-consensual sex by name.
    "nonconsent.sexual": """
        =rape, =rapes, =raped, =raping, rapist, =date rape, molest, =molests, =molested,
        =molesting, molestation, molester, =noncon, =non con, =non consensual,
        =nonconsensual, =non consent, =without consent, =without her consent,
        =without his consent, =without their consent, =no consent, =sexual assault,
        =sexually assaulted,
        =sexual abuse, =sexually abused, =sexually abusing, upskirt, =upskirts, downblouse,
        creepshot, voyeur, =voyeurism, =voyeuristic, =revenge porn, =forced sex,
        =rape fantasy, =sex slave, =sex slavery, =sex trafficking, =raper, =rapey,
        =being groped, =groped her, =gropes her, =groping her, =groping women, =groping a woman,
        =forced himself on, =forces himself on, =forcing himself on, =forced herself on,
        =gangrape, =gang rape, =stealthing, =dubcon, =dub con, =somnophilia
    """,
    # Young people: refused beside sexual words (text.py), fine alone.
    "young": """
        child, =children, =childs, ~kid, ~kids, kiddo, =kiddie, =kiddies, toddler, ~baby,
        ~babies, infant, newborn, preteen, pre teen, tween, =teen, =teens, =teenage,
        =teenaged, teenager, adolescent, =adolescence, juvenile, =underage, =under age,
        =under 18, =under eighteen, minor, little girl, little boy, young girl, young boy,
        small girl, small boy, =boy, =boys, schoolgirl, school girl, schoolboy, school boy,
        =school uniform, school kid, schoolkid, schoolchild, =schoolchildren, =high school,
        =highschool, middle school, =middle schooler, elementary school, grade school,
        primary school, kindergarten, kindergartner, kindergartener, preschool, preschooler,
        grader, =young looking, =youthful looking, =looks young, =looks underage, childlike,
        child like, =childish body, =child body, daughter, stepdaughter, step daughter, niece,
        =son, =sons, stepson, nephew, lolita, ~cub, puberty, prepubescent, pubescent,
        =barely legal, girl scout, boy scout, cub scout, =diaper, =diapers, =just a kid,
        =not yet 18, =loli style, =little sister, =little brother, =baby face, =babyface,
        youngster, lil girl, lil boy, =lil sis, =little sis, =lil bro, =junior high,
        =jr high, =sweet sixteen, =sweet 16, quinceanera, =bar mitzvah, =bat mitzvah,
        =first communion, =1st grade, =2nd grade, =3rd grade, =4th grade, =5th grade,
        =6th grade, =7th grade, =8th grade, =9th grade, =10th grade, =11th grade,
        =first grade, =second grade, =third grade, =fourth grade, =fifth grade,
        =sixth grade, =seventh grade, =eighth grade, =ninth grade, =tenth grade
    """,
    # Coercion and incapacity: refused beside sexual words.
    "coercion": """
        =forced, =forcing, =force her, =force him, =forces her, =forcibly, =against her will,
        =against his will, =against their will, =against my will, =drugged, =roofied,
        =unconscious, =passed out, =knocked out, =asleep, =sleeping, =sedated, =blacked out,
        =blackout drunk, =hypnotized, =hypnotised, =hypnosis, =mind control,
        =mind controlled, =brainwashed, =struggling, =resisting, =held down, =pinned down,
        =kidnapped, =abducted, =captive, =coerced, =coercion, =blackmailed, =blackmail,
        =unwilling, =unwanted, =reluctant, =groped, =groping, =grope, =gropes, =incapacitated,
        =trafficked, =enslaved, =without knowing, =she says no, =he says no, =says no,
        =begs him to stop, =tries to escape,
        =doesn t want, =doesnt want, =does not want, =did not consent, =didn t consent,
        =chloroform, =chloroformed, =while she sleeps, =while he sleeps, =too drunk, =blackout,
        =took advantage of her, =takes advantage of her, =taking advantage of her
    """,
    # Filming someone unaware: refused beside sexual words or a private place.
    "voyeur": """
        =hidden camera, =hidden cam, =spy cam, =spycam, =secretly filmed, =secretly filming,
        =secretly recorded, =secretly recording, =peeping, =peeping tom, =spying on,
        =peeking at, =creep shot, =candid shot of her, =without her knowing
    """,
    "private.place": """
        =shower, =showers, =showering, changing room, locker room, =bathroom, =toilet,
        restroom, dressing room, fitting room, =bedroom window, =changing clothes,
        =getting changed, =undressing
    """,
    # Changing clothes: refused beside a child or a real person, unrated alone.
    "clothing.changing": """
        =changing clothes, =changes clothes, =changing her clothes, =changing his clothes,
        =getting changed, =gets changed, =getting undressed, =gets undressed, =changing room
    """,
    # Someone real and identifiable, short of a name (text.py adds "my ...", "this woman").
    "person.marker": """
        =celebrity, =celebrities, =celeb, =celebs, =famous actress, =famous actor,
        =famous singer, =pop star, =popstar, =movie star, =film star, deepfake, deep fake,
        =face swap, =faceswap, =face swapped, =leaked, =leaked photos, =lookalike,
        =look alike, =ex girlfriend, =ex boyfriend, =ex wife, =ex husband, =my ex
    """,
    # Art that makes nudity R rather than X.
    "art": """
        statue, sculpture, =sculpted, painting, =painted, =marble, =renaissance,
        =classical, fresco, =museum, =oil painting, =life drawing, =figure drawing,
        =charcoal sketch, =sketch, =bronze, =greek statue, =roman statue, =art history,
        =baroque, =gallery, =canvas, =venus, =michelangelo, =botticelli, =rodin, =rubens,
        =art, =artistic, =artwork, =fine art
    """,
    # Beside an ambiguous "~" word, these make it the animal.
    "animal": """
        cat, kitten, dog, puppy, =puppies, goat, lamb, bird, =birdwatching, rooster, hen,
        chicken, =farm, barn, branch, =branches, feeder, nest, =perched, =willow, feather,
        wing, elephant, lion, tiger, bear, panda, =deer, fawn, horse, foal, =calf, =calves, cow,
        pig, piglet, duck, duckling, fox, wolf, =wolves, seal, penguin, owl, parrot, animal,
        =pet, =pets, =fish, bunny, rabbit, monkey, squirrel, =sheep, songbird, =zoo,
        =wildlife, seabird, gull, =poultry, =flock, =chirping, =tree, =trees, =garden birds,
        giraffe, zebra, koala, otter, beaver, hamster, kangaroo, =safari, =aviary, =plumage
    """,
    # Innocent phrases that contain a listed word; a match inside one is dropped.
    "safe": """
        =breast cancer, =breast cancer awareness, =chicken breast, =chicken breasts,
        =turkey breast, =turkey breasts, =duck breast, =duck breasts, =breast stroke,
        =blood orange, =blood oranges, =blood moon, =blood donation, =blood donor, =blood drive,
        =blood test, =blood pressure, =blood type, =blood bank, =blood cell, =blood cells,
        =blood sample, =blood vessel, =blood vessels, =blood sugar, =bloody mary,
        =naked eye, =naked flame, =naked truth, =naked mole rat, =naked mole rats,
        =nude lipstick, =nude lip, =nude lips, =nude makeup, =nude color, =nude colour,
        =nude colored, =nude coloured, =nude tone, =nude tones, =nude heels, =nude shoes,
        =nude pumps, =nude nails, =nude nail polish, =nude palette, =nude beige, =nude pink,
        =nude dress, =nude gown, =nude sandals, =nude shade, =sex education, =sex ed,
        =opposite sex, =same sex, =both sexes, =sex of the, =cum laude, =magna cum laude,
        =summa cum laude, =moby dick, =dick van dyke, =dick tracy, =spotted dick,
        =cock a doodle, =cock a doodle doo, =weather cock, =pussy willow, =pussy willows,
        =great tit, =great tits, =blue tit, =blue tits, =coal tit, =coal tits, =footed booby,
        =footed boobies, =brown booby, =masked booby, =water gun, =water guns, =glue gun,
        =nail gun, =heat gun, =spray gun, =nerf gun, =squirt gun, =toy gun, =top gun,
        =pillow fight, =snowball fight, =water gun fight, =nerf gun fight, =food fight,
        =water fight, =bath bomb, =bath bombs,
        =photo bomb, =star wars, =al gore, =gore tex, =oilseed rape, =rape seed,
        =rape field, =rape fields, =field of rape, =fields of rape, =rape flowers,
        =minor key, =minor chord, =minor scale, =in a minor, =a minor key, =c minor, =d minor,
        =e minor, =f minor, =g minor, =b minor, =minor league, =minor injury,
        =minor injuries, =minor character, =minor characters, =minor detail, =minor details,
        =minor change, =minor changes, =minor planet, =minor repairs, =baby oil, =baby blue,
        =baby pink, =baby shower, =baby bump, =baby grand, =baby carrots, =baby spinach,
        =baby back ribs, =baby steps, =baby boomer, =baby boomers, =baby powder,
        =kid gloves, =forced perspective,
        =bloody brilliant, =war paint, =fight for,
        =battle of the bands, =rap battle, =dance battle, =pole vault,
        =brutal honesty, =brutally honest, =boy band, =oh boy, =attaboy,
        =sexy car, =unconscious bias, =the unconscious,
        =gun dog, =gun metal, =dick cheney, =k dick, =cum grano salis, =naked lunch,
        =the naked gun,
        =passed out flyers, =knocked out the competition, =reluctant hero
    """,
}
